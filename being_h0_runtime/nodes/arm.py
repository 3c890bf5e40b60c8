"""Arm node: the Franka (franky) or the virtual rig's arm behind the shared control loop."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from ..drivers.base import ArmCommand, ArmDriver
from ..drivers.options import ARM_OPTIONS
from ..rig import ARM_JOINT_NAMES, READY_Q
from ..safety.limits import JointLimits, WorkspaceBox, franka_fr3_limits
from .actuator import ActuatorNode, ActuatorParams


class ArmParams(ActuatorParams):
    OPTIONS = ARM_OPTIONS
    backend: Literal["sim", "franka"] = "sim"
    home_q: list[float] = Field(default_factory=lambda: list(READY_Q),
                                min_length=7, max_length=7)


class ArmNode(ActuatorNode):
    Params = ArmParams
    group = "arm"
    joint_names = ARM_JOINT_NAMES

    def make_driver(self) -> ArmDriver:
        if self.p.backend == "sim":
            from ..drivers.arm.sim import SimArm

            return SimArm(self.handle)
        if self.p.backend == "franka":
            from ..drivers.arm.franka import FrankaArm

            return FrankaArm(self.p.options)  # a FrankaConfig, validated with the profile
        raise ValueError(f"arm backend {self.p.backend!r} unknown; use 'sim' or 'franka'")

    def make_limits(self) -> JointLimits:
        return franka_fr3_limits()

    def read_state(self) -> tuple[np.ndarray, np.ndarray | None, str | None, float]:
        s = self.driver.read()
        return s.q, s.dq, s.fault, s.stamp

    def write_command(self, q: np.ndarray, velocity: np.ndarray | None) -> None:
        self.driver.write(ArmCommand(q=q, velocity=velocity))

    def make_workspace(self) -> WorkspaceBox | None:
        ws = self.p.safety.workspace
        if ws is None:
            return None
        from ..rig.franka import dh_fk  # Franka's published kinematics

        return WorkspaceBox(np.array(ws.min), np.array(ws.max), fk=lambda q: dh_fk(q)[:3, 3])

    def home_position(self) -> np.ndarray:
        return np.asarray(self.p.home_q, dtype=float)


