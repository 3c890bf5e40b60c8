"""Being-H0 backbone: InternVL (InternViT + MLP projector + Qwen2.5) with motion tokens.

One file on purpose (~400 lines): the whole model, readable top to bottom as nanoGPT's is;
splitting it would scatter one class's handles across modules.

Why a wrapper: pretraining, post-training and export all need the same few
handles on the backbone, independent of scale and of whether the weights are
random (tests, virtual rig) or a user's local InternVL3 checkpoint. The
wrapper holds a ``transformers.InternVLForConditionalGeneration`` built from
a ``BeingH0Config`` and the tokenizer extended with motion/image tokens.

Interface for other modules (post-training, export)
---------------------------------------------------
``model = build_being_h0(BeingH0Config.preset("tiny"))`` or
``model = BeingH0Model.from_pretrained(dir)`` then:

- hidden size ............ ``model.hidden_size`` (int, LLM hidden size)
- LLM input embeddings ... ``model.get_input_embeddings()`` -> ``nn.Embedding``
  (vocab incl. motion tokens); ``model.embed_tokens(input_ids)`` -> (B, L, H)
- image embeddings ....... ``model.embed_images(pixel_values)`` with
  pixel_values (N_tiles, 3, S, S) normalised by ``IMAGENET_MEAN/STD`` ->
  (N_tiles, model.num_image_tokens, H), already projected into LLM space.
- multimodal embeddings .. ``model.build_inputs_embeds(input_ids, pixel_values)``:
  token embeddings with every ``<IMG_CONTEXT>`` position replaced, in order,
  by the image embeddings.
- last-layer hidden states ``model.llm_hidden_states(inputs_embeds,
  attention_mask=None, position_ids=None)`` -> (B, L, H): output of the last
  decoder layer after the final RMSNorm (what ``lm_head`` consumes).
- logits / loss .......... ``model(input_ids, pixel_values=..., attention_mask=...,
  labels=...)`` -> ``BeingH0Output(loss, logits, hidden_states)``; labels use
  -100 for ignored positions and are shifted inside.
- generation ............. ``model.generate(input_ids, pixel_values, ...)``
  greedy with KV cache; ``allowed_token_ids`` constrains decoding.
- token ids .............. ``model.token_map`` (``TokenMap``: motion id range,
  ``<MOT>``, ``</MOT>``, ``<img>``, ``</img>``, ``<IMG_CONTEXT>``, eos, pad).
- underlying modules ..... ``model.internvl`` (HF model), ``model.vision_tower``,
  ``model.projector``, ``model.language_model`` (Qwen2Model), ``model.lm_head``.
- save / load ............ ``model.save_pretrained(dir)`` writes config.json +
  model.safetensors (a valid HF InternVL checkpoint), tokenizer files,
  ``being_h0_config.json`` and ``being_h0_token_map.json``;
  ``BeingH0Model.from_pretrained(dir)`` loads that, or a user's local
  InternVL3 "-hf" checkpoint directory (then pass ``num_motion_tokens``; the
  vocabulary is extended and the new rows randomly initialised).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    InternVLConfig,
    InternVLForConditionalGeneration,
    PreTrainedTokenizerBase,
)

from .vla_config import BEING_H0_CONFIG_FILE, BeingH0Config
from .vla_tokenizer import (
    TOKEN_MAP_FILE,
    TokenMap,
    add_being_h0_tokens,
    build_byte_tokenizer,
    load_tokenizer,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class BeingH0Output:
    loss: torch.Tensor | None
    logits: torch.Tensor
    hidden_states: torch.Tensor


def _padded_vocab(n: int, cfg: BeingH0Config) -> int:
    n = max(n, cfg.min_vocab_size)
    m = max(1, cfg.pad_vocab_multiple)
    return ((n + m - 1) // m) * m


def make_internvl_config(cfg: BeingH0Config, vocab_size: int, token_map: TokenMap) -> InternVLConfig:
    """Translate a ``BeingH0Config`` into a transformers ``InternVLConfig``."""
    v, t = cfg.vision, cfg.text
    vision = dict(
        hidden_size=v.hidden_size,
        num_hidden_layers=v.num_hidden_layers,
        num_attention_heads=v.num_attention_heads,
        intermediate_size=v.intermediate_size,
        image_size=v.image_size,
        patch_size=v.patch_size,
        norm_type=v.norm_type,
        use_qk_norm=v.use_qk_norm,
        attention_bias=v.attention_bias,
    )
    text = dict(
        model_type="qwen2",
        vocab_size=vocab_size,
        hidden_size=t.hidden_size,
        num_hidden_layers=t.num_hidden_layers,
        num_attention_heads=t.num_attention_heads,
        num_key_value_heads=t.num_key_value_heads,
        intermediate_size=t.intermediate_size,
        rms_norm_eps=t.rms_norm_eps,
        rope_parameters={"rope_type": "default", "rope_theta": t.rope_theta},
        max_position_embeddings=t.max_position_embeddings,
        tie_word_embeddings=cfg.tie_word_embeddings,
        eos_token_id=token_map.eos_id,
        pad_token_id=token_map.pad_id,
    )
    return InternVLConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=token_map.img_context_id,
        image_seq_length=cfg.num_image_tokens,
        downsample_ratio=cfg.downsample_ratio,
        tie_word_embeddings=cfg.tie_word_embeddings,
    )


class BeingH0Model(nn.Module):
    """InternVL backbone + extended tokenizer; see the module docstring."""

    def __init__(
        self,
        config: BeingH0Config,
        internvl: InternVLForConditionalGeneration,
        tokenizer: PreTrainedTokenizerBase,
        token_map: TokenMap,
    ) -> None:
        super().__init__()
        self.config = config
        self.internvl = internvl
        self.tokenizer = tokenizer
        self.token_map = token_map

    # ----- handles -------------------------------------------------------
    @property
    def hidden_size(self) -> int:
        return self.config.text.hidden_size

    @property
    def num_image_tokens(self) -> int:
        return self.config.num_image_tokens

    @property
    def image_size(self) -> int:
        return self.config.vision.image_size

    @property
    def vocab_size(self) -> int:
        return self.get_input_embeddings().num_embeddings

    @property
    def vision_tower(self) -> nn.Module:
        return self.internvl.model.vision_tower

    @property
    def projector(self) -> nn.Module:
        return self.internvl.model.multi_modal_projector

    @property
    def language_model(self) -> nn.Module:
        return self.internvl.model.language_model

    @property
    def lm_head(self) -> nn.Module:
        return self.internvl.lm_head

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device

    def get_input_embeddings(self) -> nn.Embedding:
        return self.internvl.get_input_embeddings()

    def embed_tokens(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.get_input_embeddings()(input_ids)

    def embed_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) normalised tiles -> (N, num_image_tokens, hidden_size)."""
        if pixel_values.ndim != 4 or pixel_values.shape[1] != 3:
            raise ValueError(f"pixel_values must be (N, 3, S, S), got {tuple(pixel_values.shape)}")
        s = self.image_size
        if pixel_values.shape[-2:] != (s, s):
            raise ValueError(f"pixel_values tiles must be {s}x{s}, got {tuple(pixel_values.shape[-2:])}")
        dtype = self.vision_tower.embeddings.patch_embeddings.projection.weight.dtype
        out = self.internvl.model.get_image_features(pixel_values=pixel_values.to(dtype), return_dict=True)
        return out.pooler_output

    def build_inputs_embeds(self, input_ids: torch.Tensor, pixel_values: torch.Tensor | None = None) -> torch.Tensor:
        """Token embeddings with ``<IMG_CONTEXT>`` positions filled by image embeddings."""
        emb = self.embed_tokens(input_ids)
        mask = input_ids == self.token_map.img_context_id
        n_ctx = int(mask.sum())
        if pixel_values is None or pixel_values.numel() == 0:
            if n_ctx:
                raise ValueError(f"{n_ctx} <IMG_CONTEXT> tokens but no pixel_values")
            return emb
        img = self.embed_images(pixel_values)
        if img.shape[0] * img.shape[1] != n_ctx:
            raise ValueError(
                f"{n_ctx} <IMG_CONTEXT> tokens but {img.shape[0]} tiles x {img.shape[1]} image tokens"
            )
        emb = emb.clone()
        emb[mask] = img.reshape(-1, img.shape[-1]).to(emb.dtype)
        return emb

    def llm_hidden_states(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Last decoder layer output after the final norm, (B, L, H)."""
        if position_ids is None and attention_mask is not None:
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp_min(0)
        out = self.language_model(
            inputs_embeds=inputs_embeds, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
        )
        return out.last_hidden_state

    # ----- training forward ---------------------------------------------
    def forward(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> BeingH0Output:
        emb = self.build_inputs_embeds(input_ids, pixel_values)
        hidden = self.llm_hidden_states(emb, attention_mask)
        logits = self.lm_head(hidden)
        loss = None
        if labels is not None:
            shift_logits = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
            shift_labels = labels[:, 1:].reshape(-1)
            loss = F.cross_entropy(shift_logits, shift_labels, ignore_index=-100)
        return BeingH0Output(loss=loss, logits=logits, hidden_states=hidden)

    # ----- generation ----------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        max_new_tokens: int = 64,
        eos_token_ids: Sequence[int] | None = None,
        allowed_token_ids: Sequence[int] | None = None,
        allowed_fn: "Callable[[int], Sequence[int]] | None" = None,
    ) -> torch.Tensor:
        """Greedy decoding with KV cache. Batch prompts must be LEFT padded.

        Returns (B, <=max_new_tokens) new token ids; finished rows are padded
        with ``token_map.pad_id``. ``eos_token_ids`` defaults to
        ``[</MOT>, eos]``. ``allowed_fn(i)`` returns the ids allowed at the
        i-th new token (grammar-constrained decoding, e.g. motion-token slots);
        it is applied on top of ``allowed_token_ids``.
        """
        # Longer than 60 lines because it is the model's one decoding loop (KV cache, constraints, stop), kept
        # whole like the rest of this one-file model.
        from transformers import DynamicCache

        b = input_ids.shape[0]
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        eos = torch.tensor(
            list(eos_token_ids) if eos_token_ids is not None else [self.token_map.mot_end_id, self.token_map.eos_id],
            device=input_ids.device,
        )
        bias = self._allowed_bias(allowed_token_ids, input_ids.device) if allowed_token_ids is not None else None
        emb = self.build_inputs_embeds(input_ids, pixel_values)
        mask = attention_mask.long()
        pos = (mask.cumsum(-1) - 1).clamp_min(0)
        cache = DynamicCache(config=self.internvl.config.text_config)
        out = self.language_model(inputs_embeds=emb, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True)
        next_pos = pos[:, -1:] + 1
        done = torch.zeros(b, dtype=torch.bool, device=input_ids.device)
        generated: list[torch.Tensor] = []
        hidden = out.last_hidden_state[:, -1:]
        for i in range(max_new_tokens):
            logits = self.lm_head(hidden)[:, -1].float()
            if bias is not None:
                logits = logits + bias
            if allowed_fn is not None:
                logits = logits + self._allowed_bias(allowed_fn(i), logits.device)
            tok = logits.argmax(-1)
            tok = torch.where(done, torch.full_like(tok, self.token_map.pad_id), tok)
            generated.append(tok)
            done = done | torch.isin(tok, eos)
            if bool(done.all()):
                break
            mask = torch.cat([mask, mask.new_ones((b, 1))], dim=1)  # finished rows keep decoding pad; ignored
            out = self.language_model(
                inputs_embeds=self.embed_tokens(tok.unsqueeze(1)),
                attention_mask=mask,
                position_ids=next_pos,
                past_key_values=out.past_key_values,
                use_cache=True,
            )
            next_pos = next_pos + 1
            hidden = out.last_hidden_state
        if not generated:
            return input_ids.new_zeros((b, 0))
        return torch.stack(generated, dim=1)

    def _allowed_bias(self, allowed: Sequence[int], device: torch.device) -> torch.Tensor:
        """0 on the allowed token ids, -inf elsewhere: added to the logits, only those can be picked."""
        bias = torch.full((self.vocab_size,), float("-inf"), device=device)
        bias[torch.as_tensor(list(allowed), device=device)] = 0.0
        return bias

    # ----- misc ------------------------------------------------------------
    def gradient_checkpointing_enable(self) -> None:
        kw = {"gradient_checkpointing_kwargs": {"use_reentrant": False}}
        enable = getattr(self.internvl, "activation_checkpointing_enable", None)
        if enable is not None:  # transformers >= 5 name
            try:
                enable(**kw)
                return
            except TypeError:
                enable()
                return
        self.internvl.gradient_checkpointing_enable(**kw)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ----- persistence ----------------------------------------------------
    def save_pretrained(self, directory: str | Path, safe_serialization: bool = True) -> None:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.internvl.save_pretrained(str(d), safe_serialization=safe_serialization)
        self.tokenizer.save_pretrained(str(d))
        self.config.save(d)
        (d / TOKEN_MAP_FILE).write_text(self.token_map.to_json())

    @classmethod
    def from_pretrained(
        cls,
        directory: str | Path,
        num_motion_tokens: int | None = None,
        torch_dtype: torch.dtype | None = None,
    ) -> "BeingH0Model":
        """Load a Being-H0 directory, or a local InternVL "-hf" checkpoint.

        For a plain InternVL checkpoint (no ``being_h0_config.json``) the
        tokenizer is extended with ``num_motion_tokens`` motion tokens
        (default 16384) and the embeddings resized.
        """
        d = Path(directory)
        cfg_path = d / "config.json"
        if not cfg_path.exists():
            raise FileNotFoundError(f"{d}: no config.json (expected a Being-H0 or InternVL '-hf' checkpoint)")
        raw = json.loads(cfg_path.read_text())
        if raw.get("model_type") != "internvl":
            raise ValueError(
                f"{cfg_path}: model_type={raw.get('model_type')!r}; expected 'internvl'. Original InternVL3 "
                "checkpoints ('internvl_chat', trust_remote_code) must be the transformers-native '-hf' variant "
                "(e.g. OpenGVLab/InternVL3-1B-hf) or converted with transformers' convert_internvl_weights_to_hf.py."
            )
        kw = {"local_files_only": True}
        if torch_dtype is not None:
            kw["dtype"] = torch_dtype
        internvl = InternVLForConditionalGeneration.from_pretrained(str(d), **kw)
        tok = load_tokenizer(d)
        if (d / BEING_H0_CONFIG_FILE).exists():
            cfg = BeingH0Config.load(d)
            if num_motion_tokens is not None and num_motion_tokens != cfg.num_motion_tokens:
                raise ValueError(f"{d}: checkpoint has {cfg.num_motion_tokens} motion tokens, asked for {num_motion_tokens}")
            tmap = add_being_h0_tokens(tok, cfg.num_motion_tokens)
        else:
            n = num_motion_tokens if num_motion_tokens is not None else 16384
            cfg = BeingH0Config.from_internvl_config(internvl.config, num_motion_tokens=n, name=d.name)
            tmap = add_being_h0_tokens(tok, n)
            need = len(tok)
            if need > internvl.get_input_embeddings().num_embeddings:
                internvl.resize_token_embeddings(_padded_vocab(need, cfg), mean_resizing=False)
            internvl.config.image_token_id = tmap.img_context_id
        if len(tok) > internvl.get_input_embeddings().num_embeddings:
            raise ValueError(f"{d}: tokenizer has {len(tok)} tokens but embeddings only {internvl.get_input_embeddings().num_embeddings}")
        return cls(cfg, internvl, tok, tmap)


def build_being_h0(config: BeingH0Config | str = "tiny", seed: int | None = 0) -> BeingH0Model:
    """Random-init Being-H0 backbone from a config or preset name (offline)."""
    cfg = BeingH0Config.preset(config) if isinstance(config, str) else config.validate()
    if seed is not None:
        torch.manual_seed(seed)
    tok = build_byte_tokenizer()
    tmap = add_being_h0_tokens(tok, cfg.num_motion_tokens)
    vocab = _padded_vocab(len(tok), cfg)
    hf_cfg = make_internvl_config(cfg, vocab, tmap)
    internvl = InternVLForConditionalGeneration(hf_cfg)
    internvl.eval()
    return BeingH0Model(cfg, internvl, tok, tmap)


def normalize_pixels(images_uint8: torch.Tensor) -> torch.Tensor:
    """(N, S, S, 3) or (N, 3, S, S) uint8 -> float (N, 3, S, S) ImageNet-normalised."""
    x = images_uint8
    if x.ndim != 4:
        raise ValueError(f"expected 4-D image batch, got {tuple(x.shape)}")
    if x.shape[-1] == 3 and x.shape[1] != 3:
        x = x.permute(0, 3, 1, 2)
    x = x.float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std
