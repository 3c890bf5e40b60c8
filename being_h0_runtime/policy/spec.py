"""Action specs and observations: what a policy consumes and produces.

The engine manifest declares the action spec; nothing downstream hard-codes
13 (or 16) dimensions: nodes pick their joints out of a chunk by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ..config import StrictModel
from ..rig import ARM_JOINT_NAMES, HAND_DOF_NAMES


class ActionSpec(StrictModel):
    names: list[str] = Field(min_length=1)
    units: list[str] = Field(default_factory=list)
    chunk_len: int = Field(16, ge=1, le=1024)
    control_rate_hz: float = Field(10.0, gt=0, le=2000)
    arm_mode: Literal["joint", "cartesian"] = "joint"
    absolute: bool = True
    #: per-dim mean/std used to (de)normalise network outputs; empty = identity
    mean: list[float] = Field(default_factory=list)
    std: list[float] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_lengths(self) -> "ActionSpec":
        n = len(self.names)
        for key in ("units", "mean", "std"):
            v = getattr(self, key)
            if v and len(v) != n:
                raise ValueError(f"{key} has {len(v)} entries but there are {n} action names")
        if len(set(self.names)) != n:
            raise ValueError("action names must be unique")
        if self.std and min(self.std) <= 0:
            raise ValueError("std entries must be > 0")
        return self

    @property
    def dims(self) -> int:
        return len(self.names)

    @property
    def step_dt(self) -> float:
        return 1.0 / self.control_rate_hz

    def indices(self, wanted: tuple[str, ...] | list[str]) -> list[int]:
        missing = [w for w in wanted if w not in self.names]
        if missing:
            raise ValueError(f"action spec lacks {missing}; it has {self.names}")
        return [self.names.index(w) for w in wanted]


def default_action_spec(chunk_len: int = 16, control_rate_hz: float = 10.0) -> ActionSpec:
    names = list(ARM_JOINT_NAMES) + list(HAND_DOF_NAMES)
    units = ["rad"] * len(ARM_JOINT_NAMES) + ["closure"] * len(HAND_DOF_NAMES)
    return ActionSpec(names=names, units=units, chunk_len=chunk_len, control_rate_hz=control_rate_hz)


@dataclass
class Observation:
    """Everything a policy may look at for one inference call."""

    stamp: float  # time of the newest sensor sample used
    proprio: np.ndarray  # ordered as proprio_names
    proprio_names: list[str]
    instruction: str
    image: np.ndarray | None = None  # (H, W, 3) uint8 RGB
    #: virtual-rig privileged state (object poses) for scripted experts only
    privileged: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
