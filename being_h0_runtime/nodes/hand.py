"""Hand node: the Inspire RH56 over RS-485 (real or the virtual rig's emulator on a pty)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from ..config import FilePath
from ..drivers.base import HandCommand, HandDriver
from ..drivers.options import HAND_OPTIONS
from ..rig import HAND_DOF_NAMES
from ..safety.limits import HandLimits
from .actuator import ActuatorNode, ActuatorParams


class HandParams(ActuatorParams):
    OPTIONS = HAND_OPTIONS
    backend: Literal["inspire"] = "inspire"
    rate_hz: float = Field(50.0, gt=0, le=200)
    #: largest closure change per cycle (the hand's own speed is the real limit)
    max_step: float = Field(0.05, gt=0, le=1)
    open_on_home: bool = True
    #: rig calibration folder (calibration/<rig>) whose hand_ranges.yaml sets the per-DoF open/closed raw values;
    #: "" = use the driver's defaults (documented sources disagree on which end is open: calibrate!)
    #: (a relative path resolves against the profile file's folder)
    calibration_dir: FilePath = ""


class HandNode(ActuatorNode):
    Params = HandParams
    group = "hand"
    joint_names = HAND_DOF_NAMES

    def make_driver(self) -> HandDriver:
        if self.p.backend == "inspire":
            from ..drivers.hand.inspire import InspireHand

            config = self.p.options  # an InspireHandConfig, validated with the profile
            if self.p.calibration_dir:
                from ..calibration.schema import load_hand_ranges

                config = config.with_calibration(load_hand_ranges(self.p.calibration_dir).hand_calibration())
            return InspireHand(config, clock=self.handle.now)
        raise ValueError(f"hand backend {self.p.backend!r} unknown; use 'inspire' (real or emulated port)")

    def make_limits(self) -> HandLimits:
        # HandLimits (not JointLimits) so the supervisor applies the hand's own closure margin
        return HandLimits(max_step=self.p.max_step)

    def read_state(self) -> tuple[np.ndarray, np.ndarray | None, str | None, float]:
        s = self.driver.read()
        return s.position, None, s.fault, s.stamp

    def write_command(self, q: np.ndarray, velocity: np.ndarray | None) -> None:
        self.driver.write(HandCommand(position=q))

    def home_position(self) -> np.ndarray | None:
        return np.zeros(len(HAND_DOF_NAMES)) if self.p.open_on_home else None
