"""What a converted official Being-H0 checkpoint is: ``OfficialVLASpec`` (vision + text shapes, heads, prompt).

The converter (``being_h0_train.official``) writes it as ``official_vla.json`` next to the weights; the
runtime's ``OfficialAlignModel`` (``official.py``) is built from it. Reading the *official* ``config.json``
and mapping its weight names is conversion work and stays in ``being_h0_train.official.layout``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...config import ConfigError

RUNTIME_CONFIG_FILE = "official_vla.json"


@dataclass(frozen=True)
class VisionShape:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    image_size: int  # the tile size the checkpoint runs at (force_image_size)
    pos_image_size: int  # the size its position embedding was trained for (vision_config.image_size)
    patch_size: int
    norm_type: str
    qkv_bias: bool
    qk_normalization: bool
    layer_norm_eps: float
    hidden_act: str


@dataclass(frozen=True)
class TextShape:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    rms_norm_eps: float
    rope_theta: float
    max_position_embeddings: int
    hidden_act: str
    tie_word_embeddings: bool
    rope_scaling: dict[str, Any] | None = None


@dataclass(frozen=True)
class OfficialVLASpec:
    """Everything the runtime needs from an official ``config.json``."""

    vision: VisionShape
    text: TextShape
    downsample_ratio: float
    select_layer: int
    template: str
    align: bool  # enable_robot_alignment: proprio_encoder + action_decoder present
    proprio_dim: int
    action_dim: int
    chunk_len: int
    gen_action_type: str
    source_dtype: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_image_tokens(self) -> int:
        side = self.vision.image_size // self.vision.patch_size
        return int(side * side * self.downsample_ratio * self.downsample_ratio)

    @property
    def head_hidden(self) -> int:
        return self.text.hidden_size // 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OfficialVLASpec:
        d = dict(d)
        d["vision"] = VisionShape(**d["vision"])
        d["text"] = TextShape(**d["text"])
        return cls(**d)

    def save(self, directory: Path) -> None:
        (directory / RUNTIME_CONFIG_FILE).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, directory: Path) -> OfficialVLASpec:
        p = Path(directory) / RUNTIME_CONFIG_FILE
        try:
            return cls.from_dict(json.loads(p.read_text()))
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise ConfigError(f"{p}: not a valid converted official VLA config ({e})") from None
