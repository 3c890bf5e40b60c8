"""Soft start: a minimum-jerk ramp from the measured state to the first command (after a hold or for homing)."""

from __future__ import annotations

import math

import numpy as np

from being_h0_runtime.safety.limits import JointLimits


class SoftStart:
    """Minimum-jerk ramp from the measured state to the first command.

    The duration is stretched where needed so peak velocity (1.875 d/T) and
    peak acceleration (5.7735 d/T^2) stay within the (margined) limits; the
    goal is clipped into the position box first.
    """

    def __init__(
        self, start: np.ndarray, goal: np.ndarray, t0: float, duration_s: float, limits: JointLimits
    ) -> None:
        s = np.asarray(start, dtype=float)
        g = np.asarray(goal, dtype=float)
        if s.shape != (limits.dim,) or g.shape != (limits.dim,):
            raise ValueError(f"start/goal must have shape ({limits.dim},), got {s.shape} / {g.shape}")
        if not (np.all(np.isfinite(s)) and np.all(np.isfinite(g))):
            raise ValueError("start/goal must be finite")
        if not (duration_s >= 0 and math.isfinite(duration_s)):
            raise ValueError(f"duration_s must be >= 0, got {duration_s}")
        self.start = s
        self.goal = np.clip(g, np.minimum(limits.pos_min, s), np.maximum(limits.pos_max, s))
        d = np.abs(self.goal - s)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_vel = np.nan_to_num(1.875 * d / limits.vel_max)
            t_acc = np.nan_to_num(np.sqrt(5.7735 * d / limits.acc_max))
            # hand-style per-cycle step bounds are enforced by the supervisor; not known here (no dt)
        self.t0 = t0
        self.duration = float(max(duration_s, t_vel.max(initial=0.0), t_acc.max(initial=0.0)))

    def done(self, now: float) -> bool:
        return now - self.t0 >= self.duration

    def sample(self, now: float) -> np.ndarray:
        if self.duration <= 0:
            return self.goal.copy()
        tau = min(max((now - self.t0) / self.duration, 0.0), 1.0)
        sh = tau**3 * (10 - 15 * tau + 6 * tau * tau)
        return self.start + (self.goal - self.start) * sh
