"""``BeingH0Config``: one typed description of a Being-H0 backbone at any scale.

Why: the same code must build a few-MB model for CPU tests and the exact
InternVL3-1B/8B/14B/38B shapes for GPU latency benchmarks and real
checkpoints. Presets carry the public InternVL3 (HF-format) numbers:

=============  ======================  ======================================
preset         vision tower            language model (Qwen2.5)
=============  ======================  ======================================
tiny           64 hid, 2 L, 4 H, 112px 128 hid, 2 L, 4 H / 2 KV, 256 FFN
internvl3-1b   InternViT-300M (1024,   0.5B: 896 hid, 24 L, 14 H / 2 KV,
               24 L, 16 H, 4096 FFN,   4864 FFN (untied lm_head)
               patch 14, 448px)
internvl3-8b   InternViT-300M          7B: 3584 hid, 28 L, 28 H / 4 KV, 18944
internvl3-14b  InternViT-300M          14B: 5120 hid, 48 L, 40 H / 8 KV, 13824
internvl3-38b  InternViT-6B (3200, 45  32B: 5120 hid, 64 L, 40 H / 8 KV, 27648
               L, 25 H, 12800, RMSNorm,
               QK-norm)
=============  ======================  ======================================

All InternVL3 models use pixel-shuffle downsampling 0.5 (256 tokens per
448px tile) and a 2-layer MLP projector; base text vocabulary 151674.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

BEING_H0_CONFIG_FILE = "being_h0_config.json"
INTERNVL3_TEXT_VOCAB = 151674


@dataclass(frozen=True)
class VisionSpec:
    hidden_size: int = 1024
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    intermediate_size: int = 4096
    image_size: int = 448
    patch_size: int = 14
    norm_type: str = "layer_norm"
    use_qk_norm: bool = False
    attention_bias: bool = True


@dataclass(frozen=True)
class TextSpec:
    hidden_size: int = 896
    num_hidden_layers: int = 24
    num_attention_heads: int = 14
    num_key_value_heads: int = 2
    intermediate_size: int = 4864
    rms_norm_eps: float = 1e-6
    rope_theta: float = 1_000_000.0
    max_position_embeddings: int = 32768


@dataclass(frozen=True)
class BeingH0Config:
    """Backbone shape + vocabulary extension.

    ``min_vocab_size``: the embedding table is at least this large (used by
    the shaped presets so that lm_head/embedding have the real InternVL3 size
    even with the offline byte tokenizer). ``num_motion_tokens`` must equal
    the GRQ motion tokenizer's ``num_token_ids``.
    """

    name: str = "tiny"
    vision: VisionSpec = field(default_factory=VisionSpec)
    text: TextSpec = field(default_factory=TextSpec)
    downsample_ratio: float = 0.5
    num_motion_tokens: int = 512
    min_vocab_size: int = 0
    pad_vocab_multiple: int = 64
    tie_word_embeddings: bool = False
    max_dynamic_tiles: int = 6
    use_thumbnail: bool = True

    @property
    def num_image_tokens(self) -> int:
        """LLM tokens per image tile after pixel shuffle."""
        side = self.vision.image_size // self.vision.patch_size
        return int(side * side * self.downsample_ratio * self.downsample_ratio)

    def validate(self) -> "BeingH0Config":
        v, t = self.vision, self.text
        side = v.image_size // v.patch_size
        if v.image_size % v.patch_size:
            raise ValueError(f"vision.image_size {v.image_size} not divisible by patch_size {v.patch_size}")
        if (side * self.downsample_ratio) % 1:
            raise ValueError(f"patch grid {side} not divisible by 1/downsample_ratio")
        if v.hidden_size % v.num_attention_heads:
            raise ValueError("vision.hidden_size must be divisible by vision.num_attention_heads")
        if t.hidden_size % t.num_attention_heads or t.num_attention_heads % t.num_key_value_heads:
            raise ValueError("text heads must divide hidden_size and be a multiple of num_key_value_heads")
        if self.num_motion_tokens <= 0:
            raise ValueError("num_motion_tokens must be > 0")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BeingH0Config":
        d = dict(d)
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown BeingH0Config fields: {sorted(unknown)}")
        d["vision"] = VisionSpec(**d.get("vision", {}))
        d["text"] = TextSpec(**d.get("text", {}))
        return cls(**d).validate()

    def save(self, directory: str | Path) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / BEING_H0_CONFIG_FILE).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, directory: str | Path) -> "BeingH0Config":
        p = Path(directory) / BEING_H0_CONFIG_FILE
        try:
            return cls.from_dict(json.loads(p.read_text()))
        except (ValueError, TypeError) as e:
            raise ValueError(f"{p}: {e}") from e

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "BeingH0Config":
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return replace(PRESETS[name], **overrides).validate()

    @classmethod
    def from_internvl_config(cls, hf: Any, num_motion_tokens: int, name: str = "checkpoint") -> "BeingH0Config":
        """Describe a real InternVL (HF-format) checkpoint's config."""
        v, t = hf.vision_config, hf.text_config
        img = v.image_size[0] if isinstance(v.image_size, (list, tuple)) else v.image_size
        patch = v.patch_size[0] if isinstance(v.patch_size, (list, tuple)) else v.patch_size
        return cls(
            name=name,
            vision=VisionSpec(
                hidden_size=v.hidden_size,
                num_hidden_layers=v.num_hidden_layers,
                num_attention_heads=v.num_attention_heads,
                intermediate_size=v.intermediate_size,
                image_size=int(img),
                patch_size=int(patch),
                norm_type=v.norm_type,
                use_qk_norm=bool(v.use_qk_norm),
                attention_bias=bool(v.attention_bias),
            ),
            text=TextSpec(
                hidden_size=t.hidden_size,
                num_hidden_layers=t.num_hidden_layers,
                num_attention_heads=t.num_attention_heads,
                num_key_value_heads=t.num_key_value_heads,
                intermediate_size=t.intermediate_size,
                rms_norm_eps=float(t.rms_norm_eps),
                rope_theta=float(getattr(t, "rope_theta", None) or (getattr(t, "rope_parameters", None) or {}).get("rope_theta", 1e6)),
                max_position_embeddings=t.max_position_embeddings,
            ),
            downsample_ratio=float(hf.downsample_ratio),
            num_motion_tokens=num_motion_tokens,
            tie_word_embeddings=bool(getattr(hf, "tie_word_embeddings", False)),
        ).validate()


_VIT_300M = VisionSpec()
_VIT_6B = VisionSpec(
    hidden_size=3200, num_hidden_layers=45, num_attention_heads=25, intermediate_size=12800,
    norm_type="rms_norm", use_qk_norm=True, attention_bias=False,
)
_FULL_MOTION = 2 * 2 * 4096  # parts x groups x codebook (GRQ default, codebook shared over residual layers)

PRESETS: dict[str, BeingH0Config] = {
    "tiny": BeingH0Config(
        name="tiny",
        vision=VisionSpec(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                          image_size=112, patch_size=14),
        text=TextSpec(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      intermediate_size=256, max_position_embeddings=4096),
        num_motion_tokens=512,
        max_dynamic_tiles=2,
    ),
    # the virtual rig's default engine: tiny, but with 8 px patches so a 4 cm toy seen from the head camera
    # covers whole patches (with 14 px patches at 112 px it is a sub-patch speck); one 128 px tile
    "sim-small": BeingH0Config(
        name="sim-small",
        vision=VisionSpec(hidden_size=96, num_hidden_layers=3, num_attention_heads=4, intermediate_size=192,
                          image_size=128, patch_size=8),
        text=TextSpec(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      intermediate_size=256, max_position_embeddings=4096),
        num_motion_tokens=512,
        max_dynamic_tiles=1,
        use_thumbnail=False,
    ),
    "internvl3-1b": BeingH0Config(
        name="internvl3-1b", vision=_VIT_300M, text=TextSpec(), num_motion_tokens=_FULL_MOTION,
        min_vocab_size=INTERNVL3_TEXT_VOCAB,  # InternVL3-1B unties lm_head (938M params total)
    ),
    "internvl3-8b": BeingH0Config(
        name="internvl3-8b", vision=_VIT_300M,
        text=TextSpec(hidden_size=3584, num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
                      intermediate_size=18944),
        num_motion_tokens=_FULL_MOTION, min_vocab_size=INTERNVL3_TEXT_VOCAB,
    ),
    "internvl3-14b": BeingH0Config(
        name="internvl3-14b", vision=_VIT_300M,
        text=TextSpec(hidden_size=5120, num_hidden_layers=48, num_attention_heads=40, num_key_value_heads=8,
                      intermediate_size=13824),
        num_motion_tokens=_FULL_MOTION, min_vocab_size=INTERNVL3_TEXT_VOCAB,
    ),
    "internvl3-38b": BeingH0Config(
        name="internvl3-38b", vision=_VIT_6B,
        text=TextSpec(hidden_size=5120, num_hidden_layers=64, num_attention_heads=40, num_key_value_heads=8,
                      intermediate_size=27648),
        num_motion_tokens=_FULL_MOTION, min_vocab_size=INTERNVL3_TEXT_VOCAB,
    ),
}
