"""What the Inspire hand already holds, so a write is sent only when it would change something.

Split from ``inspire.py`` (the driver): the SPEED_SET / FORCE_SET values last written, and the
ANGLE_SET target the hand last acknowledged (the fast cycle skips re-sending an unchanged target within
``rewrite_period_s``). Values are raw register numbers; NaN means "unknown / leave unchanged".
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from .protocol import (
    NUM_DOF,
    RAW_MAX,
    RAW_UNCHANGED,
    REGISTERS,
    Register,
    pack_u16,
    unpack_u16,
)

if TYPE_CHECKING:  # pragma: no cover
    from .calibration import HandCalibration
    from .inspire_link import InspireLink


def same(new: np.ndarray, sent: np.ndarray | None) -> bool:
    """True when writing ``new`` would not change what the hand already has."""
    if sent is None:
        return bool(np.all(np.isnan(new)))
    mask = ~np.isnan(new)
    return bool(np.all(new[mask] == sent[mask]))


def merge(sent: np.ndarray | None, new: np.ndarray) -> np.ndarray:
    base = np.full(NUM_DOF, np.nan) if sent is None else sent.copy()
    mask = ~np.isnan(new)
    base[mask] = new[mask]
    return base


def fraction_to_raw(x: np.ndarray | None) -> np.ndarray | None:
    """0..1 speed / force fractions (NaN = unchanged) -> raw register values."""
    if x is None:
        return None
    x = np.asarray(x, float)
    if x.shape != (NUM_DOF,):
        raise ValueError(f"speed/force_limit must have shape ({NUM_DOF},), got {x.shape}")
    return np.where(np.isnan(x), np.nan, np.round(np.clip(x, 0.0, 1.0) * RAW_MAX))


class Setpoints:
    """The hand's speed, force and acknowledged angle setpoints, as this driver last wrote them."""

    def __init__(self) -> None:
        self.speed: np.ndarray | None = None
        self.force: np.ndarray | None = None
        self.acked_angle: np.ndarray | None = None  # raw ANGLE_SET the hand acknowledged (NaN = unknown)
        self.acked_at = -np.inf

    def forget_speed_force(self) -> None:
        """After a recovery the hand's values are unknown: the next ones are written whatever they are."""
        self.speed = self.force = None

    def angle_is_current(self, raw: np.ndarray, rewrite_period_s: float) -> bool:
        """The hand acknowledged exactly this target less than `rewrite_period_s` ago."""
        fresh = time.perf_counter() - self.acked_at < rewrite_period_s
        return fresh and same(raw, self.acked_angle)

    def write_speed_force(self, link: InspireLink, cal: HandCalibration, speed: np.ndarray | None,
                          force: np.ndarray | None, angle_closure: np.ndarray | None = None) -> bool:
        """Write speed/force (0..1 fractions, NaN = unchanged) only where changed, plus an optional angle target."""
        sp, fo = fraction_to_raw(speed), fraction_to_raw(force)
        ok = True
        if sp is not None and not same(sp, self.speed):
            ok = link.write(Register.SPEED_SET, pack_u16(sp))
            if ok:
                self.speed = merge(self.speed, sp)
        angle = None if angle_closure is None else cal.to_raw(angle_closure)
        force_changed = fo is not None and not same(fo, self.force)
        if ok and force_changed:
            assert fo is not None
            if angle is not None:  # ANGLE_SET and FORCE_SET are adjacent: one transaction
                ok = link.write(Register.ANGLE_SET, pack_u16(angle) + pack_u16(fo))
                angle = None
            else:
                ok = link.write(Register.FORCE_SET, pack_u16(fo))
            if ok:
                self.force = merge(self.force, fo)
        if ok and angle is not None and not np.all(np.isnan(angle)):
            ok = link.write(Register.ANGLE_SET, pack_u16(angle))
        return ok

    def on_write_ack(self, address: int, data: bytes, ok: bool) -> None:
        """Link callback after every write: track the angle target the hand acknowledged (fast cycle)."""
        if address != Register.ANGLE_SET:
            return
        if ok:
            sent = unpack_u16(data[: REGISTERS[Register.ANGLE_SET].size], signed=False).astype(float)
            sent[sent == RAW_UNCHANGED] = np.nan
            self.acked_angle = merge(self.acked_angle, sent)
            self.acked_at = time.perf_counter()
        else:
            self.acked_angle = None  # unknown: the next command is sent whatever it is
