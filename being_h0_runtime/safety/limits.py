"""Joint, hand and workspace limits, and the validated safety configuration.

Limits are plain numpy-backed dataclasses so the supervisor can use them in a
1 kHz loop without conversions. Everything a person writes (margins, modes,
the workspace box) goes through the pydantic `SafetyConfig`, so a typo fails
on load with the field named instead of silently loosening a limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from being_h0_runtime.rig import ARM_JOINT_NAMES, HAND_DOF_NAMES, franka

ViolationMode = Literal["clamp", "reject"]

#: Violation kinds whose handling is configurable. Non-finite values, wrong
#: shapes and a bad dt are always rejected (there is nothing sane to clamp to).
CONFIGURABLE_KINDS: tuple[str, ...] = ("position", "velocity", "acceleration", "step", "workspace")


def _vec(x: float | Sequence[float] | np.ndarray, n: int, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{name}: expected {n} values, got shape {a.shape}")
    return a.copy()


# ----------------------------------------------------------------- joint limits


@dataclass(frozen=True)
class JointLimits:
    """Per-joint position / velocity / acceleration limits (rad, rad/s, rad/s^2).

    `step_max` is an optional per-cycle bound (same unit as the position), for
    devices whose speed is naturally specified per command (the hand).
    """

    names: tuple[str, ...]
    pos_min: np.ndarray
    pos_max: np.ndarray
    vel_max: np.ndarray
    acc_max: np.ndarray
    step_max: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = len(self.names)
        object.__setattr__(self, "pos_min", _vec(self.pos_min, n, "pos_min"))
        object.__setattr__(self, "pos_max", _vec(self.pos_max, n, "pos_max"))
        object.__setattr__(self, "vel_max", _vec(self.vel_max, n, "vel_max"))
        object.__setattr__(self, "acc_max", _vec(self.acc_max, n, "acc_max"))
        step = np.inf if self.step_max is None else self.step_max
        object.__setattr__(self, "step_max", _vec(step, n, "step_max"))
        if np.any(np.isnan(self.pos_min)) or np.any(np.isnan(self.pos_max)):
            raise ValueError("position limits must not be NaN")
        if np.any(self.pos_min > self.pos_max):
            bad = [self.names[i] for i in np.flatnonzero(self.pos_min > self.pos_max)]
            raise ValueError(f"pos_min > pos_max for {bad}")
        for nm in ("vel_max", "acc_max", "step_max"):
            v = getattr(self, nm)
            if np.any(~(v > 0)):
                raise ValueError(f"{nm} must be > 0 (inf allowed), got {v}")

    @property
    def dim(self) -> int:
        return len(self.names)

    def with_margins(
        self, position: float = 0.0, velocity_scale: float = 1.0, acceleration_scale: float = 1.0
    ) -> JointLimits:
        """Shrink the box by `position` on each side and scale vel/acc limits.

        A margin wider than half the range collapses that joint to its centre
        rather than producing an empty interval.
        """
        lo = self.pos_min + position
        hi = self.pos_max - position
        mid = 0.5 * (self.pos_min + self.pos_max)
        empty = lo > hi
        lo = np.where(empty, mid, lo)
        hi = np.where(empty, mid, hi)
        return JointLimits(
            self.names, lo, hi, self.vel_max * velocity_scale, self.acc_max * acceleration_scale, self.step_max
        )

    @staticmethod
    def concat(parts: Sequence[JointLimits]) -> JointLimits:
        """One limit set for a stacked command vector (e.g. 7 arm + 6 hand)."""
        return JointLimits(
            tuple(n for p in parts for n in p.names),
            np.concatenate([p.pos_min for p in parts]),
            np.concatenate([p.pos_max for p in parts]),
            np.concatenate([p.vel_max for p in parts]),
            np.concatenate([p.acc_max for p in parts]),
            np.concatenate([p.step_max for p in parts]),
        )


def franka_fr3_limits() -> JointLimits:
    """Franka Research 3 joint limits as published in the FR3 datasheet / libfranka docs."""
    return JointLimits(
        names=ARM_JOINT_NAMES,
        pos_min=franka.Q_MIN.copy(),
        pos_max=franka.Q_MAX.copy(),
        vel_max=franka.DQ_MAX.copy(),
        acc_max=franka.DDQ_MAX.copy(),
    )


# ------------------------------------------------------------------ hand limits


@dataclass(frozen=True)
class HandLimits:
    """Inspire hand closure limits in [0, 1] and the largest change per command."""

    names: tuple[str, ...] = HAND_DOF_NAMES
    closure_min: np.ndarray | float = 0.0
    closure_max: np.ndarray | float = 1.0
    max_step: np.ndarray | float = 0.05

    def as_joint_limits(self, margin: float = 0.0) -> JointLimits:
        """Hand limits in the supervisor's common form (no vel/acc bound, per-cycle step)."""
        n = len(self.names)
        return JointLimits(
            self.names,
            _vec(self.closure_min, n, "closure_min"),
            _vec(self.closure_max, n, "closure_max"),
            np.full(n, np.inf),
            np.full(n, np.inf),
            _vec(self.max_step, n, "max_step"),
        ).with_margins(position=margin)


# -------------------------------------------------------------------- workspace


@dataclass
class WorkspaceBox:
    """Axis-aligned box (base frame, metres) the end effector must stay inside.

    `fk(q) -> (3,)` maps the arm joints to the end-effector position; the
    supervisor passes only the first `len(q_slice)` dims (the arm part).
    """

    lo: np.ndarray
    hi: np.ndarray
    fk: Callable[[np.ndarray], np.ndarray]
    arm_dims: int = 7

    def __post_init__(self) -> None:
        self.lo = _vec(self.lo, 3, "workspace lo")
        self.hi = _vec(self.hi, 3, "workspace hi")
        if np.any(~(self.lo < self.hi)):
            raise ValueError(f"workspace lo must be < hi, got lo={self.lo} hi={self.hi}")

    def contains(self, q: np.ndarray) -> bool:
        p = np.asarray(self.fk(np.asarray(q[: self.arm_dims], dtype=float)), dtype=float)
        return bool(p.shape == (3,) and np.all(np.isfinite(p)) and np.all(p >= self.lo) and np.all(p <= self.hi))

    def shrunk(self, margin: float) -> WorkspaceBox:
        return WorkspaceBox(self.lo + margin, self.hi - margin, self.fk, self.arm_dims)


# ----------------------------------------------------------------------- config


class ModeConfig(BaseModel):
    """What to do when a command violates each kind of limit."""

    model_config = ConfigDict(extra="forbid")
    position: ViolationMode = "clamp"
    velocity: ViolationMode = "clamp"
    acceleration: ViolationMode = "clamp"
    step: ViolationMode = "clamp"
    workspace: ViolationMode = "clamp"


class MarginConfig(BaseModel):
    """How much tighter than the hardware limits the supervisor is."""

    model_config = ConfigDict(extra="forbid")
    position_rad: float = Field(0.02, ge=0.0, description="shrink every joint range by this on both sides")
    velocity_scale: float = Field(0.5, gt=0.0, le=1.0, description="fraction of the joint velocity limit")
    acceleration_scale: float = Field(0.5, gt=0.0, le=1.0, description="fraction of the joint acceleration limit")
    hand_closure: float = Field(0.0, ge=0.0, lt=0.5, description="shrink the [0,1] closure range on both sides")
    workspace_m: float = Field(0.0, ge=0.0, description="shrink the workspace box on every side")


class WorkspaceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min: tuple[float, float, float]
    max: tuple[float, float, float]

    @model_validator(mode="after")
    def _ordered(self) -> WorkspaceConfig:
        if not all(a < b for a, b in zip(self.min, self.max)):
            raise ValueError(f"workspace.min must be < workspace.max on every axis, got {self.min} / {self.max}")
        return self


class SafetyConfig(BaseModel):
    """Validated supervisor settings (one YAML block in a launch profile).

    `max_step_per_cycle` bounds the change of the output relative to the
    previous output, per control cycle, in command units (rad for joints,
    closure for the hand); a scalar applies to every dim, a list per dim.
    """

    model_config = ConfigDict(extra="forbid")
    modes: ModeConfig = Field(default_factory=ModeConfig)
    margins: MarginConfig = Field(default_factory=MarginConfig)
    max_step_per_cycle: float | list[float] | None = None
    workspace: WorkspaceConfig | None = None

    @field_validator("max_step_per_cycle")
    @classmethod
    def _positive(cls, v: float | list[float] | None) -> float | list[float] | None:
        vals = [] if v is None else (v if isinstance(v, list) else [v])
        if any(not (x > 0) for x in vals):
            raise ValueError(f"must be > 0 (got {v})")
        return v

    @classmethod
    def load(cls, path: str | Path) -> SafetyConfig:
        """Read a YAML file; errors name the file and the offending field."""
        import yaml

        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ValueError(f"{p}: cannot read safety config: {e}") from e
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            lines = [
                f"{p}: {'.'.join(str(x) for x in err['loc']) or '<root>'}: {err['msg']}" for err in e.errors()
            ]
            raise ValueError("invalid safety config\n" + "\n".join(lines)) from e
