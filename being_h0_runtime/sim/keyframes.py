"""The keyframe planner every scripted expert uses: keyframes -> timed min-jerk segments -> IK per tick.

An expert decides *where* the grasp site must go next (a list of Keyframe:
position, hand heading `yaw`, optional `tilt` about the hand's x axis, hand
closure, average speed, hold time). This module decides *when*: each segment
lasts long enough for its distance at the keyframe's speed and for its
rotation at ANGULAR_SPEED_RAD_S (never less than MIN_SEGMENT_S unless it does
not move at all), the path between keyframes follows a minimum-jerk profile,
and the chunk is sampled at the control period and turned into joint targets
by the expert's IK. Hand targets step at a segment's start; the hand's own
servo ramps them.

Pure numpy: `follow` takes any IK object with `solve(q0, pos, rot) -> q`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

#: Average Cartesian speeds (m/s) of free motion and of motion near objects.
V_FREE = 0.22
V_NEAR = 0.08
#: Rotation speed (rad/s) that times a segment's change of yaw or tilt.
ANGULAR_SPEED_RAD_S = 1.0
#: Shortest duration (s) of a segment that moves at all.
MIN_SEGMENT_S = 0.3


@dataclass
class Keyframe:
    """Where the grasp site should be, and how to get there from the previous keyframe."""

    pos: np.ndarray  # grasp-site position (3,), base frame
    yaw: float  # hand x-axis heading about world z
    hand: np.ndarray  # (6,) closure target
    speed: float = V_FREE  # average speed for the segment ending here
    hold: float = 0.0  # extra seconds at the keyframe (hand settling)
    tilt: float = 0.0  # rotation about the hand x axis (rad), applied after the yaw


@dataclass(frozen=True)
class Segment:
    """Move from `start` to `end` in `duration` seconds, then rest at `end` for `hold` seconds."""

    start: Keyframe
    end: Keyframe
    duration: float
    hold: float


class IK(Protocol):
    def solve(self, q0: np.ndarray, pos: np.ndarray, rot: np.ndarray) -> np.ndarray: ...


def min_jerk(u: float) -> float:
    """Minimum-jerk progress 0..1 for normalised time `u` (clamped to 0..1)."""
    u = min(max(u, 0.0), 1.0)
    return u * u * u * (10 - 15 * u + 6 * u * u)


def wrap(a: float) -> float:
    """Angle `a` wrapped to [-pi, pi)."""
    return (a + math.pi) % (2 * math.pi) - math.pi


def hand_rot(yaw: float) -> np.ndarray:
    """Hand frame with z down and x at heading `yaw` (columns = hand axes in base frame)."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, -1.0]])


def rot_x(a: float) -> np.ndarray:
    """Rotation by `a` about x."""
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def _yaw_change(a: float, b: float, wrap_yaw: bool) -> float:
    """Signed yaw change from a to b: the short way round, or literally (for experts that keep yaw in a window)."""
    return wrap(b - a) if wrap_yaw else b - a


def time_segments(start: Keyframe, keyframes: list[Keyframe], *, wrap_yaw: bool = True) -> list[Segment]:
    """Time each keyframe's segment from its distance, its rotation and its speed."""
    segments, prev = [], start
    for kf in keyframes:
        dist = float(np.linalg.norm(kf.pos - prev.pos))
        dang = max(abs(_yaw_change(prev.yaw, kf.yaw, wrap_yaw)), abs(kf.tilt - prev.tilt))
        dur = max(dist / kf.speed, dang / ANGULAR_SPEED_RAD_S)
        if dur > 0:
            dur = max(dur, MIN_SEGMENT_S)
        segments.append(Segment(prev, kf, dur, kf.hold))
        prev = kf
    return segments


def sample(segments: list[Segment], t: float, start: Keyframe, *,
           wrap_yaw: bool = True) -> tuple[np.ndarray, float, float, np.ndarray]:
    """(position, yaw, tilt, hand) `t` seconds after `start` along `segments`; the last keyframe once they end."""
    last = start
    for seg in segments:
        a, b = seg.start, seg.end
        if t < seg.duration:
            s = min_jerk(t / seg.duration)
            yaw = a.yaw + _yaw_change(a.yaw, b.yaw, wrap_yaw) * s
            tilt = a.tilt + (b.tilt - a.tilt) * s
            # hand targets step at the segment start; the hand servo ramps them
            return a.pos + (b.pos - a.pos) * s, yaw, tilt, b.hand
        t -= seg.duration
        if t < seg.hold:
            return b.pos, b.yaw, b.tilt, b.hand
        t -= seg.hold
        last = b
    return last.pos, last.yaw, last.tilt, last.hand


def follow(ik: IK, q0: np.ndarray, start: Keyframe, keyframes: list[Keyframe], steps: int, dt: float, *,
           tilted: bool = True, wrap_yaw: bool = True) -> np.ndarray:
    """A chunk (steps, arm + hand dims) of joint and hand targets, one row per control period `dt`.

    Row i is the plan at (i + 1) * dt solved by `ik` from the previous row's joints. `tilted=False`
    leaves the tilt rotation out of the IK target entirely, rather than multiplying by an identity:
    the pick-and-place expert never tilts, and its chunks stay bit-identical to the ones its demos
    and benchmarks were made with.
    """
    segments = time_segments(start, keyframes, wrap_yaw=wrap_yaw)
    out = np.zeros((steps, len(q0) + len(start.hand)))
    q = np.array(q0, dtype=float)
    for i in range(steps):
        pos, yaw, tilt, hand = sample(segments, (i + 1) * dt, start, wrap_yaw=wrap_yaw)
        rot = hand_rot(yaw) @ rot_x(tilt) if tilted else hand_rot(yaw)
        q = ik.solve(q, pos, rot)
        out[i, : len(q0)] = q
        out[i, len(q0) :] = hand
    return out
