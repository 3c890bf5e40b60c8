"""A scripted operator: sends the teleop UDP schema from a scripted trajectory.

Hand keypoints are synthesised from desired Inspire closures (handmodel.SyntheticHand),
the wrist follows waypoints, and the clutch is held while the script runs, so
the whole teleop -> safety -> recording path runs without a person.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .handmodel import FIST_POSE, OPEN_POSE, SyntheticHand
from .schema import TeleopFrame, encode

#: (t) -> (wrist position, wrist quaternion xyzw, closures(6), clutch)
Script = Callable[[float], tuple[np.ndarray, np.ndarray, np.ndarray, bool]]


def reach_and_grasp(duration: float = 4.0, reach: tuple[float, float, float] = (0.10, 0.0, -0.12)) -> Script:
    """Move the wrist by `reach` (operator frame) with min-jerk timing, close the hand, lift back up."""
    reach_v = np.asarray(reach, dtype=float)

    def min_jerk(u: float) -> float:
        u = min(max(u, 0.0), 1.0)
        return u**3 * (10 - 15 * u + 6 * u * u)

    def script(t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        u = t / duration
        if u < 0.4:
            pos, close = reach_v * min_jerk(u / 0.4), 0.0
        elif u < 0.6:
            pos, close = reach_v, min_jerk((u - 0.4) / 0.2)
        else:
            pos, close = reach_v * (1 - 0.5 * min_jerk((u - 0.6) / 0.4)), 1.0
        closures = OPEN_POSE + close * (FIST_POSE - OPEN_POSE)
        yaw = 0.2 * math.sin(math.pi * min(u, 1.0))
        quat = np.array([0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)])
        return np.array([0.3, 0.0, 0.3]) + pos, quat, closures, True

    return script


@dataclass
class ScriptedOperator:
    script: Script
    hand: SyntheticHand = field(default_factory=SyntheticHand)
    token: str = ""
    noise_m: float = 0.0  # keypoint/wrist jitter, to exercise the filters
    seed: int = 0

    def __post_init__(self) -> None:
        self.seq = 0
        self._rng = np.random.default_rng(self.seed)

    def frame(self, t: float, stamp: float | None = None) -> TeleopFrame:
        pos, quat, closures, clutch = self.script(t)
        kp = self.hand.keypoints(closures)
        if self.noise_m:
            kp = kp + self._rng.normal(0, self.noise_m, kp.shape)
            pos = pos + self._rng.normal(0, self.noise_m, 3)
        f = TeleopFrame(stamp if stamp is not None else t, kp, np.asarray(pos), np.asarray(quat), clutch, self.seq)
        self.seq += 1
        return f

    def packet(self, t: float, stamp: float | None = None) -> bytes:
        return encode(self.frame(t, stamp), self.token)


class UdpSender:
    def __init__(self, host: str, port: int) -> None:
        self.addr = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.addr)

    def close(self) -> None:
        self.sock.close()
