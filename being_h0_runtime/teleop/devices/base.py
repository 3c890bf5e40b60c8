"""What every teleop device shares: a config, the device interface, and a jogged virtual wrist.

A device turns what the operator does into `TeleopFrame`s, the same frames a
hand tracker sends over UDP (teleop/schema.py), so every device drives the
robot through one path: TeleopNode -> retargeting -> /action_chunk -> the arm
and hand nodes' executor and safety supervisor (joint, velocity and
workspace limits are enforced there, whatever the device asks for).

Devices without a tracked hand (keyboard, SpaceMouse) move a *virtual wrist*
(`JogState`): key presses and puck deflections move it; the hand is a
synthetic hand whose closure the open/close keys set.  The virtual wrist is
itself kept inside `workspace_m` (a box around where it started, operator
frame) so that holding a key cannot wind the target up far beyond what the
supervisor will let the robot reach.
"""

from __future__ import annotations

import abc

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy.spatial.transform import Rotation

from ..handmodel import FIST_POSE, OPEN_POSE, SyntheticHand
from ..schema import TeleopFrame


class DeviceError(RuntimeError):
    """A device cannot be opened or read (missing package, no hardware, unreadable file)."""


class DeviceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: multiplies every translation the device commands (0.5 = fine work)
    scale: float = Field(1.0, gt=0, le=5)
    #: half-extents (m, operator frame x/y/z) of the box the virtual wrist may move in, around its start
    workspace_m: tuple[float, float, float] = (0.35, 0.45, 0.35)
    #: frames per second the device is read at
    rate_hz: float = Field(50.0, gt=0, le=1000)

    @field_validator("workspace_m")
    @classmethod
    def _positive(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(x <= 0 for x in v):
            raise ValueError(f"workspace_m: three positive half-extents in metres, got {v}")
        return v


class TeleopDevice(abc.ABC):
    """One operator input device.  `read()` never blocks longer than the device's own frame wait."""

    #: short name shown in the console and recorded as the episode's operator device
    name: str = "device"

    def __init__(self) -> None:
        self.quit_requested = False
        # one-shot operator requests, taken by the session (take_safety_requests): latch the e-stop / reset it
        self.estop_requested = False
        self.reset_requested = False
        self.seq = 0

    def take_safety_requests(self) -> tuple[bool, bool]:
        """(e-stop, reset) asked for since the last call; each is reported once."""
        out = (self.estop_requested, self.reset_requested)
        self.estop_requested = self.reset_requested = False
        return out

    @abc.abstractmethod
    def read(self, now: float) -> TeleopFrame | None:
        """The operator's current command at `now` (seconds), or None when there is nothing to send."""

    @property
    @abc.abstractmethod
    def clutch(self) -> bool:
        """True while the operator drives the robot (takeover during a policy run)."""

    def status(self) -> str:
        return "clutch ON" if self.clutch else "clutch off"

    def drop_clutch(self) -> None:
        """Open a clutch that latches in software (an e-stop does this), so the operator must take it again.
        Devices whose clutch is a held button or a pinch have nothing to drop."""

    def close(self) -> None:
        pass

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq


class JogState:
    """A virtual wrist (position, orientation) and a hand closure, moved by increments."""

    START = np.array([0.3, 0.0, 0.3])  # only relative motion matters (the clutch re-anchors)

    def __init__(self, config: DeviceConfig, hand: SyntheticHand | None = None) -> None:
        self.config = config
        self.hand = hand or SyntheticHand()
        self.pos = self.START.copy()
        self.quat = np.array([0.0, 0.0, 0.0, 1.0])
        self.closure = 0.0
        self.at_limit = False

    def move(self, dp: np.ndarray, drot: np.ndarray | None = None) -> None:
        """Translate by `dp` (m, operator frame; times config.scale) and rotate by `drot` (rad about x, y, z)."""
        box = np.asarray(self.config.workspace_m)
        want = self.pos + self.config.scale * np.asarray(dp, dtype=float)
        self.pos = np.clip(want, self.START - box, self.START + box)
        self.at_limit = bool(np.any(np.abs(want - self.pos) > 1e-12))
        if drot is not None:
            for axis, angle in enumerate(np.asarray(drot, dtype=float)):
                if angle:
                    turn = Rotation.from_rotvec(angle * np.eye(3)[axis])  # about the operator's x, y or z
                    self.quat = (turn * Rotation.from_quat(self.quat)).as_quat()

    def grip(self, delta: float) -> None:
        self.closure = float(np.clip(self.closure + delta, 0.0, 1.0))

    def keypoints(self) -> np.ndarray:
        return self.hand.keypoints(OPEN_POSE + self.closure * (FIST_POSE - OPEN_POSE))

    def frame(self, t: float, clutch: bool, seq: int) -> TeleopFrame:
        return TeleopFrame(float(t), self.keypoints(), self.pos.copy(), self.quat.copy(), bool(clutch), seq)
