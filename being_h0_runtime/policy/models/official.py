"""``OfficialAlignModel``: the official Being-H0 Align inference graph on transformers 5 modules.

What the official ``BeingVLAModel.get_action`` computes (BeingBeyond/Being-H, branch being-h0),
rebuilt from ``transformers.InternVLModel`` (InternViT + pixel-shuffle + MLP projector + Qwen2):

1. prompt ``<img>`` + N x ``<IMG_CONTEXT>`` + ``</img> {task} <PROP_CONTEXT> <ACTION_CHUNK_0> ... <ACTION_CHUNK_15>``
   tokenised whole (the engine's ``PromptSpec`` holds that template, see ``convert``);
2. the token embeddings at ``<IMG_CONTEXT>`` are replaced, in order, by the image tokens
   (InternViT -> drop CLS -> pixel shuffle 0.5 -> ``mlp1``); the one at ``<PROP_CONTEXT>`` by
   ``proprio_encoder(state)`` (Linear P->H/2, ReLU, Linear H/2->H);
3. one causal LM pass; the final-norm hidden state at each ``<ACTION_CHUNK_i>`` goes through
   ``action_decoder`` (Linear H->H/2, ReLU, Linear H/2->A): one action per chunk step.

No normalisation is applied to state or actions (the official deployed path applies none).
The splice uses ``where`` + ``gather`` instead of boolean-mask assignment, so the graph has no
data-dependent shapes and traces to ONNX with dynamic tile count and prompt length.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .official_spec import OfficialVLASpec

WEIGHTS_INDEX = "model.safetensors.index.json"


def make_internvl_config(spec: OfficialVLASpec, attn_implementation: str = "sdpa") -> Any:
    from transformers import InternVLConfig

    v, t = spec.vision, spec.text
    vision = dict(
        hidden_size=v.hidden_size, num_hidden_layers=v.num_hidden_layers, num_attention_heads=v.num_attention_heads,
        intermediate_size=v.intermediate_size, image_size=v.image_size, patch_size=v.patch_size,
        norm_type=v.norm_type, use_qk_norm=v.qk_normalization, attention_bias=v.qkv_bias,
        layer_norm_eps=v.layer_norm_eps, hidden_act=v.hidden_act, use_mean_pooling=True,
        use_absolute_position_embeddings=True, hidden_dropout_prob=0.0, attention_dropout=0.0,
        projection_dropout=0.0,
    )
    # the official (transformers 4.43) Qwen2 applies plain RoPE whatever rope_scaling says; the tables
    # themselves come from OfficialRotaryEmbedding
    rope: dict[str, Any] = {"rope_type": "default", "rope_theta": t.rope_theta}
    text = dict(
        model_type="qwen2", vocab_size=t.vocab_size, hidden_size=t.hidden_size, num_hidden_layers=t.num_hidden_layers,
        num_attention_heads=t.num_attention_heads, num_key_value_heads=t.num_key_value_heads,
        intermediate_size=t.intermediate_size, rms_norm_eps=t.rms_norm_eps, hidden_act=t.hidden_act,
        max_position_embeddings=t.max_position_embeddings, rope_parameters=rope,
        tie_word_embeddings=t.tie_word_embeddings, use_sliding_window=False,
    )
    cfg = InternVLConfig(vision_config=vision, text_config=text, downsample_ratio=spec.downsample_ratio,
                         projector_hidden_act="gelu", vision_feature_layer=-1,
                         vision_feature_select_strategy="default",
                         image_seq_length=spec.num_image_tokens, tie_word_embeddings=t.tie_word_embeddings)
    cfg._attn_implementation = attn_implementation
    cfg.vision_config._attn_implementation = attn_implementation
    cfg.text_config._attn_implementation = attn_implementation
    return cfg


class OfficialRotaryEmbedding(nn.Module):
    """Qwen2 RoPE with the cos/sin tables exactly as the official (transformers 4.43) model holds them.

    transformers 4.43 precomputes ``cos(t * inv_freq)`` / ``sin`` tables in float32 and, because the
    official ``BeingVLAModel`` is built and served in bfloat16, casts those buffers to bfloat16 with the
    model; even after ``.float()`` the tables keep bf16 precision. Reproducing the official outputs
    therefore needs the same rounded tables (``table_dtype``), not transformers 5's on-the-fly float32 ones.
    """

    def __init__(self, head_dim: int, base: float, max_positions: int, table_dtype: torch.dtype | None) -> None:
        super().__init__()
        self.head_dim, self.base, self.table_dtype = head_dim, base, table_dtype
        self._build(max_positions)

    def _build(self, n: int) -> None:
        with torch.device("cpu"):
            inv_freq = 1.0 / (self.base ** (torch.arange(0, self.head_dim, 2, dtype=torch.int64).float() / self.head_dim))
            t = torch.arange(n, dtype=torch.int64).type_as(inv_freq)
            emb = torch.cat([torch.outer(t, inv_freq)] * 2, dim=-1)
            cos, sin = emb.cos(), emb.sin()
            if self.table_dtype is not None:
                cos, sin = cos.to(self.table_dtype).float(), sin.to(self.table_dtype).float()
        self.register_buffer("cos_table", cos, persistent=False)
        self.register_buffer("sin_table", sin, persistent=False)

    def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not torch.jit.is_tracing() and int(position_ids.max()) >= self.cos_table.shape[0]:
            self._build(int(position_ids.max()) + 1)
        return self.cos_table[position_ids].to(x.dtype), self.sin_table[position_ids].to(x.dtype)


def _mlp(i: int, h: int, o: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(i, h), nn.ReLU(), nn.Linear(h, o))


class OfficialAlignModel(nn.Module):
    """See the module docstring. ``forward(pixel_values (B,T,3,S,S), input_ids (B,L), proprio (B,P))`` -> (B, C, A)."""

    def __init__(self, spec: OfficialVLASpec, token_ids: dict[str, Any] | None = None, with_lm_head: bool = False,
                 attn_implementation: str = "sdpa") -> None:
        super().__init__()
        from transformers import InternVLModel

        self.spec = spec
        self.hf_config = make_internvl_config(spec, attn_implementation)
        self.vlm = InternVLModel(self.hf_config)
        if spec.vision.qk_normalization:  # InternViT's QK-norm uses layer_norm_eps; transformers fixes it at 1e-6
            for layer in self.vlm.vision_tower.encoder.layer:
                layer.attention.q_norm.variance_epsilon = spec.vision.layer_norm_eps
                layer.attention.k_norm.variance_epsilon = spec.vision.layer_norm_eps
        t = spec.text
        self.lm_head = nn.Linear(t.hidden_size, t.vocab_size, bias=False) if with_lm_head else None
        if spec.align:
            self.proprio_encoder = _mlp(spec.proprio_dim, spec.head_hidden, t.hidden_size)
            self.action_decoder = _mlp(t.hidden_size, spec.head_hidden, spec.action_dim)
        tid = token_ids or {}
        self.register_buffer("img_context_id", torch.tensor(int(tid.get("img_context", -1))), persistent=False)
        self.register_buffer("prop_context_id", torch.tensor(int(tid.get("prop_context", -1))), persistent=False)
        acts = tid.get("action_chunk") or [-1] * spec.chunk_len
        self.register_buffer("action_token_ids", torch.tensor([int(a) for a in acts]), persistent=False)
        self._install_rope()
        n = spec.vision.num_hidden_layers
        k = spec.select_layer
        #: InternViT layers to run: hidden_states[k] of (embeddings, layer 1, ..., layer n)
        self.vision_layers = n if k == -1 else (n + 1 + k if k < 0 else k)

    def _install_rope(self) -> None:
        t = self.spec.text
        table = self.spec.extra.get("rope_table_dtype", "bfloat16")
        self.vlm.language_model.rotary_emb = OfficialRotaryEmbedding(
            t.hidden_size // t.num_attention_heads, t.rope_theta, min(t.max_position_embeddings, 8192),
            None if table in (None, "float32") else getattr(torch, table))

    # ----- pieces ---------------------------------------------------------------------------------
    @property
    def image_size(self) -> int:
        return self.spec.vision.image_size

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) ImageNet-normalised tiles -> (N, num_image_tokens, H): official ``extract_feature``."""
        vt = self.vlm.vision_tower
        x = vt.embeddings(pixel_values.to(vt.embeddings.patch_embeddings.projection.weight.dtype))
        for layer in vt.encoder.layer[: self.vision_layers]:
            x = layer(x)
        x = x[:, 1:, :]
        side = self.spec.vision.image_size // self.spec.vision.patch_size  # static: keeps the trace shape-free
        x = x.reshape(x.shape[0], side, side, x.shape[-1])
        x = self.vlm.pixel_shuffle(x, scale_factor=self.spec.downsample_ratio)
        x = x.reshape(x.shape[0], -1, x.shape[-1])
        return self.vlm.multi_modal_projector(x)

    @staticmethod
    def _causal_mask(seq: int, x: torch.Tensor) -> torch.Tensor:
        i = torch.arange(seq, device=x.device)
        allowed = (i.unsqueeze(0) <= i.unsqueeze(1)).unsqueeze(0).unsqueeze(0)
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        neg = torch.full((), torch.finfo(x.dtype).min, dtype=x.dtype, device=x.device)
        return torch.where(allowed, zero, neg)

    def hidden_states(self, pixel_values: torch.Tensor, input_ids: torch.Tensor,
                      proprio: torch.Tensor | None) -> torch.Tensor:
        """Final-norm LM hidden states (B, L, H) over the spliced prompt."""
        b, t = pixel_values.shape[0], pixel_values.shape[1]
        embed = self.vlm.language_model.embed_tokens
        emb = embed(input_ids)
        h = emb.shape[-1]
        img = self.image_features(pixel_values.reshape(b * t, *pixel_values.shape[2:]))
        img = img.reshape(b, -1, h).to(emb.dtype)
        is_img = input_ids == self.img_context_id
        idx = (is_img.long().cumsum(-1) - 1).clamp(min=0, max=img.shape[1] - 1)
        img_at = torch.gather(img, 1, idx.unsqueeze(-1).expand(-1, -1, h))
        emb = torch.where(is_img.unsqueeze(-1), img_at, emb)
        if proprio is not None and self.spec.align:
            prop = self.proprio_encoder(proprio.to(self.proprio_encoder[0].weight.dtype)).to(emb.dtype)
            emb = torch.where((input_ids == self.prop_context_id).unsqueeze(-1), prop.unsqueeze(1), emb)
        seq = emb.shape[1]
        pos = torch.arange(seq, device=emb.device).unsqueeze(0).expand(b, -1)
        out = self.vlm.language_model(inputs_embeds=emb, attention_mask=self._causal_mask(seq, emb),
                                      position_ids=pos, use_cache=False)
        return out.last_hidden_state

    def forward(self, pixel_values: torch.Tensor, input_ids: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        if not self.spec.align:
            raise RuntimeError("this checkpoint has no robot-alignment heads (a pre-trained backbone)")
        hidden = self.hidden_states(pixel_values, input_ids, proprio)
        match = input_ids.unsqueeze(-1) == self.action_token_ids.view(1, 1, -1)  # (B, L, C)
        pos = match.long().argmax(dim=1)  # first position of each <ACTION_CHUNK_i>
        hq = torch.gather(hidden, 1, pos.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
        return self.action_decoder(hq.to(self.action_decoder[0].weight.dtype))

    def check_prompt(self, input_ids: torch.Tensor, tiles: int) -> None:
        """Raise ValueError when a prompt does not have the official layout's placeholders."""
        n_img = int((input_ids == self.img_context_id).sum())
        want = tiles * self.spec.num_image_tokens * input_ids.shape[0]
        if n_img != want:
            raise ValueError(f"prompt has {n_img} <IMG_CONTEXT> tokens, image gives {want}")
        if int((input_ids == self.prop_context_id).sum()) != input_ids.shape[0]:
            raise ValueError("prompt must hold exactly one <PROP_CONTEXT> token")
        for i, a in enumerate(self.action_token_ids.tolist()):
            if int((input_ids == a).sum()) != input_ids.shape[0]:
                raise ValueError(f"prompt must hold <ACTION_CHUNK_{i}> exactly once")

    # ----- persistence ----------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, directory: str | Path, dtype: torch.dtype | None = None,
                        attn_implementation: str = "sdpa") -> OfficialAlignModel:
        """Load a converted engine's ``torch/`` folder (``official_vla.json`` + safetensors shards), memory-mapped."""
        from safetensors import safe_open

        d = Path(directory)
        spec = OfficialVLASpec.load(d)
        token_ids = spec.extra.get("token_ids", {})
        files = weight_files(d)
        with safe_open(str(files[0]), framework="pt") as f0:
            has_head = any(k == "lm_head.weight" for k in f0.keys())
        with torch.device("meta"):
            model = cls(spec, token_ids, with_lm_head=has_head or bool(spec.extra.get("with_lm_head")),
                        attn_implementation=attn_implementation)
        sd: dict[str, torch.Tensor] = {}
        for p in files:
            with safe_open(str(p), framework="pt") as f:
                for k in f.keys():
                    t = f.get_tensor(k)
                    sd[k] = t.to(dtype) if dtype is not None else t
        missing, unexpected = model.load_state_dict(sd, strict=False, assign=True)
        if missing or unexpected:
            raise ValueError(f"{d}: weights do not match the model (missing {missing[:5]}, unexpected {unexpected[:5]})")
        del sd
        _materialise_buffers(model, spec, token_ids)
        return model.eval()


def weight_files(d: Path) -> list[Path]:
    idx = d / WEIGHTS_INDEX
    if idx.is_file():
        names = sorted(set(json.loads(idx.read_text())["weight_map"].values()))
        return [d / n for n in names]
    single = d / "model.safetensors"
    if single.is_file():
        return [single]
    raise FileNotFoundError(f"{d}: no {WEIGHTS_INDEX} or model.safetensors")


def _materialise_buffers(model: OfficialAlignModel, spec: OfficialVLASpec, token_ids: dict[str, Any]) -> None:
    """Buffers that are computed, not stored (rotary inv_freq, token ids) are rebuilt on CPU after a meta build."""
    model._install_rope()
    acts = token_ids.get("action_chunk") or [-1] * spec.chunk_len
    model.img_context_id = torch.tensor(int(token_ids.get("img_context", -1)))
    model.prop_context_id = torch.tensor(int(token_ids.get("prop_context", -1)))
    model.action_token_ids = torch.tensor([int(a) for a in acts])
    left = [n for n, b in model.named_buffers() if b.device.type == "meta"]
    left += [n for n, p in model.named_parameters() if p.device.type == "meta"]
    if left:
        raise ValueError(f"tensors left unmaterialised after loading: {left[:5]}")
