"""``PostTrainConfig``: everything that shapes the post-training model and its heads.

Why a separate, JSON-serialisable config: the same description must rebuild
the model for resuming, for evaluation, for the ONNX export and for the
runtime's PyTorch backend, without pickles.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

POSTTRAIN_CONFIG_FILE = "posttrain_config.json"

TrainMode = Literal["frozen", "llm", "lora", "full"]
LossKind = Literal["l1", "l2", "smooth_l1"]


@dataclass(frozen=True)
class PostTrainConfig:
    """Shapes and options of the Being-H0 post-training model.

    ``backbone``: a preset name of ``BeingH0Config`` ("tiny", "internvl3-1b",
    ...) or a local checkpoint directory. ``train_mode``: "frozen" trains only
    the action queries / proprio projector / action head (Being-H0 default);
    "llm" also trains the language model; "lora" adds LoRA adapters to the
    LLM attention and MLP projections; "full" trains everything, vision tower
    included — for small from-scratch models such as the virtual rig's default
    engine, whose random vision tower has nothing worth freezing.
    """

    backbone: str = "tiny"
    backbone_seed: int = 0
    action_names: tuple[str, ...] = ()
    proprio_names: tuple[str, ...] = ()
    chunk_len: int = 16
    control_rate_hz: float = 10.0
    head_hidden: int = 512
    proprio_hidden: int = 512
    loss: LossKind = "l1"
    smooth_l1_beta: float = 0.05
    train_mode: TrainMode = "frozen"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    max_tiles: int | None = None  # None: the backbone's max_dynamic_tiles
    use_thumbnail: bool | None = None  # None: the backbone's use_thumbnail
    action_units: tuple[str, ...] = field(default=())
    arm_mode: Literal["joint", "cartesian"] = "joint"
    absolute: bool = True

    @property
    def action_dim(self) -> int:
        return len(self.action_names)

    @property
    def proprio_dim(self) -> int:
        return len(self.proprio_names)

    def validate(self) -> PostTrainConfig:
        if not self.action_names:
            raise ValueError("PostTrainConfig.action_names is empty")
        if not self.proprio_names:
            raise ValueError("PostTrainConfig.proprio_names is empty")
        if self.chunk_len < 1:
            raise ValueError(f"chunk_len must be >= 1, got {self.chunk_len}")
        if self.loss not in ("l1", "l2", "smooth_l1"):
            raise ValueError(f"loss must be l1, l2 or smooth_l1, got {self.loss!r}")
        if self.train_mode not in ("frozen", "llm", "lora", "full"):
            raise ValueError(f"train_mode must be frozen, llm, lora or full, got {self.train_mode!r}")
        if self.action_units and len(self.action_units) != len(self.action_names):
            raise ValueError("action_units must be empty or one per action name")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PostTrainConfig:
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown PostTrainConfig fields: {sorted(unknown)}")
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**d).validate()

    def replace(self, **kw: Any) -> PostTrainConfig:
        return replace(self, **kw).validate()

    def save(self, directory: str | Path) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / POSTTRAIN_CONFIG_FILE).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, directory: str | Path) -> PostTrainConfig:
        p = Path(directory) / POSTTRAIN_CONFIG_FILE
        try:
            return cls.from_dict(json.loads(p.read_text()))
        except FileNotFoundError:
            raise FileNotFoundError(f"{p}: not found (not a post-training checkpoint directory)") from None
        except (ValueError, TypeError) as e:
            raise ValueError(f"{p}: {e}") from e
