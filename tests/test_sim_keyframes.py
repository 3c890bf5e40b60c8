"""The keyframe planner shared by the scripted experts: segment timing, min-jerk sampling, chunk rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from being_h0_runtime.sim.keyframes import (
    MIN_SEGMENT_S,
    Keyframe,
    follow,
    hand_rot,
    rot_x,
    sample,
    time_segments,
)

OPEN, CLOSED = np.zeros(6), np.ones(6)


def kf(x: float, yaw: float = 0.0, hand: np.ndarray = OPEN, speed: float = 0.1, hold: float = 0.0,
       tilt: float = 0.0) -> Keyframe:
    return Keyframe(np.array([x, 0.0, 0.3]), yaw, hand, speed, hold, tilt)


def test_segments_last_for_their_distance_or_rotation_and_never_less_than_the_minimum() -> None:
    start = kf(0.0)
    segs = time_segments(start, [kf(0.2), kf(0.2, yaw=0.2), kf(0.2, yaw=0.2, tilt=1.5), kf(0.201, yaw=0.2, tilt=1.5),
                                 kf(0.201, yaw=0.2, tilt=1.5, hand=CLOSED, hold=0.8)])
    assert [s.duration for s in segs] == pytest.approx([2.0, MIN_SEGMENT_S, 1.5, MIN_SEGMENT_S, 0.0])
    assert segs[-1].hold == 0.8 and segs[0].start is start and segs[1].start is segs[0].end


def test_yaw_goes_the_short_way_round_unless_told_otherwise() -> None:
    start, end = kf(0.0, yaw=3.0), kf(0.0, yaw=-3.0)
    short = time_segments(start, [end])
    assert short[0].duration == pytest.approx(MIN_SEGMENT_S)  # 0.28 rad through +-pi
    _, yaw, _, _ = sample(short, short[0].duration / 2, start)
    assert abs(abs(yaw) - math.pi) < 1e-9
    literal = time_segments(start, [end], wrap_yaw=False)
    assert literal[0].duration == pytest.approx(6.0)
    _, yaw, _, _ = sample(literal, 3.0, start, wrap_yaw=False)
    assert yaw == pytest.approx(0.0)


def test_sampling_follows_min_jerk_then_holds_then_stays_at_the_last_keyframe() -> None:
    start, a, b = kf(0.0), kf(0.2, hand=CLOSED, hold=1.0), kf(0.3)
    segs = time_segments(start, [a, b])  # 2 s, hold 1 s, 1 s
    pos, _, _, hand = sample(segs, 0.0, start)
    np.testing.assert_array_equal(pos, start.pos)
    np.testing.assert_array_equal(hand, CLOSED)  # the hand target steps at the segment start
    assert sample(segs, 1.0, start)[0][0] == pytest.approx(0.1)  # min-jerk is symmetric about mid-time
    assert sample(segs, 0.2, start)[0][0] < 0.2 * 0.1  # and starts slower than constant speed
    np.testing.assert_array_equal(sample(segs, 2.5, start)[0], a.pos)  # holding
    np.testing.assert_array_equal(sample(segs, 10.0, start)[0], b.pos)
    np.testing.assert_array_equal(sample([], 1.0, start)[0], start.pos)


class RecordingIK:
    """Stands in for the arm IK: returns q + 1 and remembers each target, so the rows can be checked."""

    def __init__(self) -> None:
        self.targets: list[tuple[np.ndarray, np.ndarray]] = []

    def solve(self, q0: np.ndarray, pos: np.ndarray, rot: np.ndarray) -> np.ndarray:
        self.targets.append((pos, rot))
        return q0 + 1.0


@pytest.mark.parametrize("tilted", [True, False])
def test_follow_solves_one_ik_per_control_period_from_the_previous_row(tilted: bool) -> None:
    ik = RecordingIK()
    start = kf(0.0, yaw=0.3, tilt=0.4)
    chunk = follow(ik, np.zeros(7), start, [kf(0.1, yaw=0.3, hand=CLOSED, tilt=0.4)], steps=4, dt=0.25, tilted=tilted)
    assert chunk.shape == (4, 13)
    np.testing.assert_array_equal(chunk[:, :7], np.arange(1, 5)[:, None] * np.ones(7))
    np.testing.assert_array_equal(chunk[:, 7:], np.ones((4, 6)))
    pos, rot = ik.targets[-1]
    np.testing.assert_allclose(pos, [0.1, 0.0, 0.3])  # 1 s = the whole segment
    expected = hand_rot(0.3) @ rot_x(0.4) if tilted else hand_rot(0.3)
    np.testing.assert_array_equal(rot, expected)
