"""The official Being-H0 checkpoint layout: config fields, weight names, shapes.

Why a separate module: the converter validates every tensor *before* it writes anything, and the
runtime model is built from the same description, so a mapping mistake cannot hide in one place.

Official names (``BeingVLAModel.state_dict()``, BeingBeyond/Being-H branch being-h0) and where they go
in the runtime model (``OfficialAlignModel`` / transformers 5 ``InternVLModel``):

=====================================================================  ======================================================
official                                                               runtime
=====================================================================  ======================================================
vlm_adapter._vision_model.embeddings.class_embedding (1,1,D)            vlm.vision_tower.embeddings.cls_token
vlm_adapter._vision_model.embeddings.patch_embedding.{weight,bias}      vlm.vision_tower.embeddings.patch_embeddings.projection.*
vlm_adapter._vision_model.embeddings.position_embedding (1,N+1,D)       vlm.vision_tower.embeddings.position_embeddings
...encoder.layers.i.attn.qkv.{weight,bias} (3D, D)  [fused q|k|v]       ...encoder.layer.i.attention.{q,k,v}_proj.*  (split in 3)
...encoder.layers.i.attn.proj.*                                         ...encoder.layer.i.attention.projection_layer.*
...encoder.layers.i.attn.{q,k}_norm.weight (InternViT-6B only)          ...encoder.layer.i.attention.{q,k}_norm.weight
...encoder.layers.i.ls1 / ls2 (layer scales)                            ...encoder.layer.i.lambda_1 / lambda_2
...encoder.layers.i.norm1 / norm2                                       ...encoder.layer.i.layernorm_before / layernorm_after
...encoder.layers.i.mlp.fc1 / fc2                                       ...encoder.layer.i.mlp.fc1 / fc2
vlm_adapter.mlp1.0 / .1 / .3  (LayerNorm, Linear, GELU, Linear)         vlm.multi_modal_projector.layer_norm / linear_1 / linear_2
vlm_adapter._language_model.model.*   (Qwen2ForCausalLM)                vlm.language_model.*   (Qwen2Model)
vlm_adapter._language_model.lm_head.weight                              lm_head.weight (pre-trained backbones only)
proprio_encoder.{0,2}  (P -> H/2 -> H)                                  proprio_encoder.{0,2}
action_decoder.{0,2}   (H -> H/2 -> A)                                  action_decoder.{0,2}
motion_adapter.*                                                        dropped (the motion tokenizer is a separate artefact)
=====================================================================  ======================================================
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from being_h0_runtime.config import ConfigError
from being_h0_runtime.policy.models.official_spec import (
    OfficialVLASpec,
    TextShape,
    VisionShape,
)

OFFICIAL_MODEL_TYPE = "beingvla"

V = "vlm_adapter._vision_model."
L = "vlm_adapter._language_model."


class CheckpointError(ConfigError):
    """A source checkpoint is malformed; the message names the file and the problem."""


def _get(d: dict[str, Any], key: str, path: Path, where: str, kind: type | tuple[type, ...] = (int,)) -> Any:
    if key not in d:
        raise CheckpointError(f"{path}: field '{where}{key}' is missing")
    v = d[key]
    if not isinstance(v, kind) or isinstance(v, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise CheckpointError(f"{path}: field '{where}{key}' must be {kind}, got {v!r}")
    return v


def read_official_config(src: Path) -> OfficialVLASpec:
    """Parse and check ``src/config.json``; CheckpointError naming the file and field on any problem."""
    path = Path(src) / "config.json"
    raw = _read_json_object(path)
    vlm, vc, lc = _check_model_kind(raw, path)
    vision = _vision_shape(raw, vlm, vc, path)
    text = _text_shape(lc, path)
    ds = float(vlm.get("downsample_ratio", raw.get("downsample_ratio", 0.5)))
    side = vision.image_size // vision.patch_size
    if (side * ds) % 1:
        raise CheckpointError(f"{path}: patch grid {side} is not divisible by 1/downsample_ratio ({ds})")
    align = bool(raw.get("enable_robot_alignment", False))
    gen = str(raw.get("gen_action_type", "prop_hidden"))
    spec = OfficialVLASpec(
        vision=vision, text=text, downsample_ratio=ds, select_layer=int(vlm.get("select_layer", -1)),
        template=str(vlm.get("template", "internvl2_5")), align=align,
        proprio_dim=int(raw.get("proprio_dim", 13)), action_dim=int(raw.get("action_dim", 13)),
        chunk_len=int(raw.get("action_chunk_length", 16)), gen_action_type=gen,
        source_dtype=str(raw.get("torch_dtype") or "bfloat16"),
    )
    if align and gen != "action_token":
        raise CheckpointError(
            f"{path}: field 'gen_action_type' is {gen!r}; the official Align inference (BeingVLAModel.get_action) "
            "decodes one action per <ACTION_CHUNK_i> token, which only 'action_token' checkpoints define")
    n = vision.num_hidden_layers
    if not -(n + 1) <= spec.select_layer <= n:
        raise CheckpointError(f"{path}: field 'vlm_config.select_layer' {spec.select_layer} out of range for {n} layers")
    return spec


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found (expected an official Being-H0 checkpoint folder)") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return raw


def _check_model_kind(raw: dict[str, Any], path: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An InternVL + Qwen2 Being-H0 checkpoint: returns (vlm_config, its vision_config, its llm_config)."""
    mt = raw.get("model_type")
    if mt != OFFICIAL_MODEL_TYPE:
        raise CheckpointError(f"{path}: field 'model_type' is {mt!r}, expected {OFFICIAL_MODEL_TYPE!r} "
                              "(an official Being-H0 BeingVLAModel checkpoint)")
    if raw.get("vlm_type", "internvl") != "internvl":
        raise CheckpointError(f"{path}: field 'vlm_type' is {raw.get('vlm_type')!r}; only 'internvl' is supported")
    vlm = raw.get("vlm_config")
    if not isinstance(vlm, dict):
        raise CheckpointError(f"{path}: field 'vlm_config' is missing or not an object")
    vc, lc = vlm.get("vision_config"), vlm.get("llm_config")
    if not isinstance(vc, dict):
        raise CheckpointError(f"{path}: field 'vlm_config.vision_config' is missing or not an object")
    if not isinstance(lc, dict):
        raise CheckpointError(f"{path}: field 'vlm_config.llm_config' is missing or not an object")
    arch = (lc.get("architectures") or [""])[0]
    if arch != "Qwen2ForCausalLM":
        raise CheckpointError(f"{path}: field 'vlm_config.llm_config.architectures' is {lc.get('architectures')!r}; "
                              "only Qwen2ForCausalLM (all released Being-H0 checkpoints) is supported")
    ps = vlm.get("ps_version", "v2")
    if ps != "v2":
        raise CheckpointError(f"{path}: field 'vlm_config.ps_version' is {ps!r}; only 'v2' is supported")
    return vlm, vc, lc


def _vision_shape(raw: dict[str, Any], vlm: dict[str, Any], vc: dict[str, Any], path: Path) -> VisionShape:
    vw = "vlm_config.vision_config."
    pos_size = int(_get(vc, "image_size", path, vw))
    image_size = int(vlm.get("force_image_size") or raw.get("force_image_size") or pos_size)
    vision = VisionShape(
        hidden_size=_get(vc, "hidden_size", path, vw),
        num_hidden_layers=_get(vc, "num_hidden_layers", path, vw),
        num_attention_heads=_get(vc, "num_attention_heads", path, vw),
        intermediate_size=_get(vc, "intermediate_size", path, vw),
        image_size=image_size,
        pos_image_size=pos_size,
        patch_size=int(vc.get("patch_size", 14)),
        norm_type=str(vc.get("norm_type", "rms_norm")),
        qkv_bias=bool(vc.get("qkv_bias", False)),
        qk_normalization=bool(vc.get("qk_normalization", True)),
        layer_norm_eps=float(vc.get("layer_norm_eps", 1e-6)),
        hidden_act=str(vc.get("hidden_act", "gelu")),
    )
    if vision.norm_type not in ("layer_norm", "rms_norm"):
        raise CheckpointError(f"{path}: field '{vw}norm_type' is {vision.norm_type!r}")
    if vision.image_size % vision.patch_size or vision.hidden_size % vision.num_attention_heads:
        raise CheckpointError(f"{path}: vision image_size {vision.image_size} / patch_size {vision.patch_size} / "
                              f"heads {vision.num_attention_heads} are inconsistent")
    return vision


def _text_shape(lc: dict[str, Any], path: Path) -> TextShape:
    lw = "vlm_config.llm_config."
    rope = lc.get("rope_scaling")
    text = TextShape(
        vocab_size=_get(lc, "vocab_size", path, lw),
        hidden_size=_get(lc, "hidden_size", path, lw),
        num_hidden_layers=_get(lc, "num_hidden_layers", path, lw),
        num_attention_heads=_get(lc, "num_attention_heads", path, lw),
        num_key_value_heads=int(lc.get("num_key_value_heads", lc.get("num_attention_heads"))),
        intermediate_size=_get(lc, "intermediate_size", path, lw),
        rms_norm_eps=float(lc.get("rms_norm_eps", 1e-6)),
        rope_theta=float(lc.get("rope_theta", 10000.0)),
        max_position_embeddings=int(lc.get("max_position_embeddings", 32768)),
        hidden_act=str(lc.get("hidden_act", "silu")),
        tie_word_embeddings=bool(lc.get("tie_word_embeddings", False)),
        rope_scaling=rope if isinstance(rope, dict) else None,
    )
    if lc.get("use_sliding_window"):
        raise CheckpointError(f"{path}: field '{lw}use_sliding_window' is true; not supported")
    return text


# ----------------------------------------------------------------------------- weight names
_VIT_LAYER = re.compile(r"^encoder\.layers\.(\d+)\.(.+)$")
_VIT_SUB = {"attn.proj.": "attention.projection_layer.", "attn.q_norm.": "attention.q_norm.",
            "attn.k_norm.": "attention.k_norm.", "norm1.": "layernorm_before.", "norm2.": "layernorm_after.",
            "mlp.fc1.": "mlp.fc1.", "mlp.fc2.": "mlp.fc2."}
_VIT_EMB = {"embeddings.class_embedding": "embeddings.cls_token",
            "embeddings.position_embedding": "embeddings.position_embeddings",
            "embeddings.patch_embedding.weight": "embeddings.patch_embeddings.projection.weight",
            "embeddings.patch_embedding.bias": "embeddings.patch_embeddings.projection.bias"}
_MLP1 = {"0": "layer_norm", "1": "linear_1", "3": "linear_2"}


def map_name(name: str) -> list[str] | None:
    """Official tensor name -> runtime name(s) (three for a fused qkv), or None when dropped."""
    if name.startswith("motion_adapter."):
        return None
    if name.startswith(V):
        rest = name[len(V):]
        if rest in _VIT_EMB:
            return ["vlm.vision_tower." + _VIT_EMB[rest]]
        m = _VIT_LAYER.match(rest)
        if m:
            i, sub = m.groups()
            pre = f"vlm.vision_tower.encoder.layer.{i}."
            if sub in ("ls1", "ls2"):
                return [pre + ("lambda_1" if sub == "ls1" else "lambda_2")]
            if sub.startswith("attn.qkv."):
                leaf = sub[len("attn.qkv."):]
                return [f"{pre}attention.{p}_proj.{leaf}" for p in ("q", "k", "v")]
            for a, b in _VIT_SUB.items():
                if sub.startswith(a):
                    return [pre + b + sub[len(a):]]
        raise KeyError(name)
    if name.startswith("vlm_adapter.mlp1."):
        idx, _, leaf = name[len("vlm_adapter.mlp1."):].partition(".")
        if idx in _MLP1 and leaf in ("weight", "bias"):
            return [f"vlm.multi_modal_projector.{_MLP1[idx]}.{leaf}"]
        raise KeyError(name)
    if name.startswith(L):
        rest = name[len(L):]
        if rest == "lm_head.weight":
            return ["lm_head.weight"]
        if rest.startswith("model."):
            return ["vlm.language_model." + rest[len("model."):]]
        raise KeyError(name)
    for head in ("proprio_encoder.", "action_decoder."):
        if name.startswith(head):
            idx, _, leaf = name[len(head):].partition(".")
            if idx in ("0", "2") and leaf in ("weight", "bias"):
                return [name]
    raise KeyError(name)


def expected_shapes(spec: OfficialVLASpec, with_lm_head: bool) -> dict[str, tuple[int, ...]]:
    """Runtime name -> shape for every tensor the runtime model needs (what the checkpoint must provide)."""
    # Longer than 60 lines because it is a table: every tensor name of the runtime model with its shape.
    v, t = spec.vision, spec.text
    d, f = v.hidden_size, v.intermediate_size
    n_pos = (v.pos_image_size // v.patch_size) ** 2 + 1
    out: dict[str, tuple[int, ...]] = {
        "vlm.vision_tower.embeddings.cls_token": (1, 1, d),
        "vlm.vision_tower.embeddings.position_embeddings": (1, n_pos, d),
        "vlm.vision_tower.embeddings.patch_embeddings.projection.weight": (d, 3, v.patch_size, v.patch_size),
        "vlm.vision_tower.embeddings.patch_embeddings.projection.bias": (d,),
    }
    for i in range(v.num_hidden_layers):
        p = f"vlm.vision_tower.encoder.layer.{i}."
        for q in ("q", "k", "v"):
            out[f"{p}attention.{q}_proj.weight"] = (d, d)
            if v.qkv_bias:
                out[f"{p}attention.{q}_proj.bias"] = (d,)
        if v.qk_normalization:
            out[f"{p}attention.q_norm.weight"] = (d,)
            out[f"{p}attention.k_norm.weight"] = (d,)
        out[f"{p}attention.projection_layer.weight"] = (d, d)
        out[f"{p}attention.projection_layer.bias"] = (d,)
        out[f"{p}lambda_1"] = (d,)
        out[f"{p}lambda_2"] = (d,)
        for nm in ("layernorm_before", "layernorm_after"):
            out[f"{p}{nm}.weight"] = (d,)
            if v.norm_type == "layer_norm":
                out[f"{p}{nm}.bias"] = (d,)
        out[f"{p}mlp.fc1.weight"] = (f, d)
        out[f"{p}mlp.fc1.bias"] = (f,)
        out[f"{p}mlp.fc2.weight"] = (d, f)
        out[f"{p}mlp.fc2.bias"] = (d,)
    pin = d * int(round(1 / spec.downsample_ratio)) ** 2
    h = t.hidden_size
    out.update({
        "vlm.multi_modal_projector.layer_norm.weight": (pin,), "vlm.multi_modal_projector.layer_norm.bias": (pin,),
        "vlm.multi_modal_projector.linear_1.weight": (h, pin), "vlm.multi_modal_projector.linear_1.bias": (h,),
        "vlm.multi_modal_projector.linear_2.weight": (h, h), "vlm.multi_modal_projector.linear_2.bias": (h,),
        "vlm.language_model.embed_tokens.weight": (t.vocab_size, h),
        "vlm.language_model.norm.weight": (h,),
    })
    hd = h // t.num_attention_heads
    kv = t.num_key_value_heads * hd
    for i in range(t.num_hidden_layers):
        p = f"vlm.language_model.layers.{i}."
        out.update({
            f"{p}self_attn.q_proj.weight": (h, h), f"{p}self_attn.q_proj.bias": (h,),
            f"{p}self_attn.k_proj.weight": (kv, h), f"{p}self_attn.k_proj.bias": (kv,),
            f"{p}self_attn.v_proj.weight": (kv, h), f"{p}self_attn.v_proj.bias": (kv,),
            f"{p}self_attn.o_proj.weight": (h, h),
            f"{p}mlp.gate_proj.weight": (t.intermediate_size, h), f"{p}mlp.up_proj.weight": (t.intermediate_size, h),
            f"{p}mlp.down_proj.weight": (h, t.intermediate_size),
            f"{p}input_layernorm.weight": (h,), f"{p}post_attention_layernorm.weight": (h,),
        })
    if with_lm_head:
        out["lm_head.weight"] = (t.vocab_size, h)
    if spec.align:
        hh = spec.head_hidden
        out.update({
            "proprio_encoder.0.weight": (hh, spec.proprio_dim), "proprio_encoder.0.bias": (hh,),
            "proprio_encoder.2.weight": (h, hh), "proprio_encoder.2.bias": (h,),
            "action_decoder.0.weight": (hh, h), "action_decoder.0.bias": (hh,),
            "action_decoder.2.weight": (spec.action_dim, hh), "action_decoder.2.bias": (spec.action_dim,),
        })
    return out


def fused_source_shape(spec: OfficialVLASpec, leaf: str) -> tuple[int, ...]:
    d = spec.vision.hidden_size
    return (3 * d, d) if leaf == "weight" else (3 * d,)
