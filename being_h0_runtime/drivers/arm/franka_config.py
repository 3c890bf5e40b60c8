"""Settings of one Franka arm (the launch profile's `arm: options:` block) and the FR3 facts they default to.

Kept apart from the driver so that validating a profile loads neither franky nor libfranka.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ...rig.franka import DQ_MAX
from ...rig.franka import READY_Q as DEFAULT_HOME_Q  # the home a config leaves out

#: Franka Research 3 joint velocity limits (rad/s), datasheet values; used before a robot reports its own.
FR3_JOINT_VELOCITY_LIMITS = tuple(DQ_MAX.tolist())


class FrankaConfig(BaseModel):
    """Validated settings of one Franka arm (maps 1:1 onto the launch profile's `arm:` block)."""

    model_config = ConfigDict(extra="forbid")

    ip: str = Field(description="FCI hostname or IP of the robot's control box")
    control_rate_hz: float = Field(50.0, ge=30.0, le=1000.0,
                                   description="rate at which targets are streamed to franky")
    relative_dynamics_factor: float = Field(0.2, gt=0.0, le=1.0,
                                            description="global scale of velocity, acceleration and jerk limits")
    velocity_factor: float | None = Field(None, gt=0.0, le=1.0, description="overrides the velocity part")
    acceleration_factor: float | None = Field(None, gt=0.0, le=1.0, description="overrides the acceleration part")
    jerk_factor: float | None = Field(None, gt=0.0, le=1.0, description="overrides the jerk part")
    # Collision behaviour (libfranka setCollisionBehavior, lower/upper thresholds).
    lower_torque_thresholds: list[float] = Field(default_factory=lambda: [20.0] * 7)
    upper_torque_thresholds: list[float] = Field(default_factory=lambda: [40.0] * 7)
    lower_force_thresholds: list[float] = Field(default_factory=lambda: [20.0] * 6)
    upper_force_thresholds: list[float] = Field(default_factory=lambda: [40.0] * 6)
    joint_impedance: list[float] | None = Field(
        default_factory=lambda: [3000.0, 3000.0, 3000.0, 2500.0, 2500.0, 2000.0, 2000.0],
        description="K_theta per joint in [0, 14250] Nm/rad; None leaves the controller default")
    cartesian_impedance: list[float] | None = Field(
        None, description="K_x (x, y, z in [10, 3000] N/m; R, P, Y in [1, 300] Nm/rad); None leaves the default")
    realtime: bool = Field(True, description="require a real-time kernel (False only for bench tests)")
    connect_timeout_s: float = Field(3.0, gt=0.0, description="deadline for reaching the FCI")
    probe_before_connect: bool = Field(True, description="TCP-probe the FCI port before libfranka connects")
    home_q: list[float] = Field(default_factory=lambda: list(DEFAULT_HOME_Q))
    home_speed_factor: float = Field(0.1, gt=0.0, le=1.0)
    infer_velocity: bool = Field(
        False, description="when a command has no velocity, derive it from the previous target "
                           "(finite difference at control_rate_hz) instead of arriving at rest")

    @field_validator("lower_torque_thresholds", "upper_torque_thresholds", "home_q")
    @classmethod
    def _seven(cls, v: list[float]) -> list[float]:
        if len(v) != 7:
            raise ValueError(f"needs 7 values (one per joint), got {len(v)}")
        return v

    @field_validator("lower_force_thresholds", "upper_force_thresholds")
    @classmethod
    def _six(cls, v: list[float]) -> list[float]:
        if len(v) != 6:
            raise ValueError(f"needs 6 values (x, y, z, R, P, Y), got {len(v)}")
        return v

    @field_validator("joint_impedance")
    @classmethod
    def _joint_k(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (len(v) != 7 or not all(0.0 <= k <= 14250.0 for k in v)):
            raise ValueError("needs 7 values in [0, 14250] Nm/rad")
        return v

    @field_validator("cartesian_impedance")
    @classmethod
    def _cart_k(cls, v: list[float] | None) -> list[float] | None:
        if v is None:
            return v
        if len(v) != 6 or not all(10 <= k <= 3000 for k in v[:3]) or not all(1 <= k <= 300 for k in v[3:]):
            raise ValueError("needs 6 values: x, y, z in [10, 3000] N/m and R, P, Y in [1, 300] Nm/rad")
        return v

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> FrankaConfig:
        for lo, hi, name in ((self.lower_torque_thresholds, self.upper_torque_thresholds, "torque"),
                             (self.lower_force_thresholds, self.upper_force_thresholds, "force")):
            if any(a > b for a, b in zip(lo, hi)):
                raise ValueError(f"lower_{name}_thresholds must not exceed upper_{name}_thresholds")
        return self

