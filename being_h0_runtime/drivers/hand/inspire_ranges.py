"""The guided range routine of an Inspire hand: find each DoF's raw ends under a low force limit.

Part of the driver, kept in its own file: it drives raw register targets
through the driver's link (bypassing the closure calibration it measures), so
it reaches into :class:`~.inspire.InspireHand` internals on purpose. Those are
named in :class:`RangeRoutineHand` (which the driver satisfies), so this file
does not import the driver that imports it. Callers use
``InspireHand.calibrate_ranges``, which checks the hand is active.
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np

from ..base import HAND_DOF_NAMES, DriverError
from .calibration import HandCalibration
from .inspire_config import InspireHandConfig
from .protocol import NUM_DOF, RAW_MAX, Register, pack_u16


class RegisterWriter(Protocol):
    def write(self, address: int, data: bytes) -> bool: ...


class RangeRoutineHand(Protocol):
    """What the range routine uses of the Inspire driver (``InspireHand`` has all of it)."""

    @property
    def cal(self) -> HandCalibration: ...

    @property
    def config(self) -> InspireHandConfig: ...

    @property
    def link(self) -> RegisterWriter: ...

    def _require_pose(self) -> np.ndarray: ...

    def _write_speed_force(
        self, speed: np.ndarray | None, force: np.ndarray | None, angle_closure: np.ndarray | None = None
    ) -> bool: ...


def calibrate_ranges(
    hand: RangeRoutineHand,
    *,
    force_limit: float,
    speed: float,
    settle_s: float,
    timeout_s: float,
    dofs: tuple[int, ...],
) -> HandCalibration:
    """Drive each DoF to both raw ends under a low force limit; the calibration found.

    Each DoF in turn moves to raw 1000 then raw 0 (others stay put) at
    ``speed`` with FORCE_SET = ``force_limit``; the pose where it settles
    (stops changing for ``settle_s`` or blocks on contact) is that end.
    Which end is "open" is taken from the current config's direction. The
    default speed/force are restored and each DoF returns to where it started.
    Raises DriverError if the link faults meanwhile.
    """
    ends = np.array([hand.cal.open_raw, hand.cal.closed_raw], float)
    hi_end, lo_end = ends.max(axis=0), ends.min(axis=0)  # kept for DoFs not in ``dofs``
    hand._write_speed_force(np.full(NUM_DOF, speed), np.full(NUM_DOF, force_limit))
    try:
        start = hand._require_pose()
        for i in dofs:
            for end_raw, store in ((RAW_MAX, hi_end), (0, lo_end)):
                _write_raw_target(hand, i, end_raw)
                store[i] = _settle(hand, i, settle_s, timeout_s)
            _write_raw_target(hand, i, start[i])
    finally:
        cfg = hand.config
        hand._write_speed_force(np.full(NUM_DOF, cfg.default_speed), np.full(NUM_DOF, cfg.default_force))
    open_is_high = np.asarray(hand.cal.open_raw) > np.asarray(hand.cal.closed_raw)
    open_raw = np.where(open_is_high, hi_end, lo_end)
    closed_raw = np.where(open_is_high, lo_end, hi_end)
    return HandCalibration(open_raw=tuple(round(float(v)) for v in open_raw),
                           closed_raw=tuple(round(float(v)) for v in closed_raw))


def _write_raw_target(hand: RangeRoutineHand, dof: int, raw: float) -> None:
    """ANGLE_SET for one DoF, every other DoF left unchanged."""
    target = np.full(NUM_DOF, np.nan)
    target[dof] = raw
    hand.link.write(Register.ANGLE_SET, pack_u16(target))


def _settle(hand: RangeRoutineHand, dof: int, settle_s: float, timeout_s: float) -> float:
    """Raw pose of `dof` once it stopped changing (by more than one raw unit) for `settle_s`."""
    t0 = time.monotonic()
    last = None
    still_since = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        pose = hand._require_pose()[dof]
        now = time.monotonic()
        if last is None or abs(pose - last) > 1.0:
            still_since = now
            last = pose
        elif now - still_since >= settle_s:
            return float(pose)
        time.sleep(0.005)
    raise DriverError(f"calibrate_ranges: DoF '{HAND_DOF_NAMES[dof]}' did not settle within {timeout_s} s")
