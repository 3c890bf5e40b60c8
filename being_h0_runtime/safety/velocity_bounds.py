"""The safety filter's core: every per-joint limit as one interval for this cycle's velocity.

Position box, max step, velocity and acceleration (relative to the previous output velocity) each give
an interval; a braking-distance bound keeps the *next* cycles feasible (a joint approaching its limit is
slowed early enough to stop inside it). A target velocity inside the combined interval passes unchanged;
outside, each violated limit is named (`violations`) and the velocity is clamped (`clamped_command`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from being_h0_runtime.safety.interventions import HoldCycle, Intervention
from being_h0_runtime.safety.limits import JointLimits

#: slack (in rad/s or closure/s) when deciding whether a target "violates" a
#: bound, so rounding at a limit is not reported as an intervention. Only
#: reporting uses it; the output itself is clamped exactly.
_VTOL = 1e-9
#: the distance to a target is capped at this (1e308-sized garbage targets must not overflow)
_MAX_DISTANCE = 1e6


@dataclass(frozen=True)
class Braking:
    """Per-joint constants of the braking-distance arithmetic (ufunc calls on 13 floats cost ~1 us each)."""

    af: np.ndarray  # acceleration limit, 1.0 where there is none
    two_over_af: np.ndarray
    inf_or_0: np.ndarray  # add to make "no braking" bounds infinite

    @classmethod
    def for_limits(cls, limits: JointLimits) -> Braking:
        acc = limits.acc_max
        fin = np.isfinite(acc)
        af = np.where(fin, acc, 1.0)
        return cls(af, 2.0 / af, np.where(fin, 0.0, np.inf))

    def stop_within(self, distance: np.ndarray, dt: float, dt2: float) -> np.ndarray:
        """Fastest speed this cycle from which the joint can still stop within `distance` (>= 0)."""
        return self.af * (np.sqrt(dt2 + distance * self.two_over_af) - dt) + self.inf_or_0


@dataclass
class CycleBounds:
    """This cycle's velocity intervals around reference `p` (see the module docstring)."""

    p: np.ndarray
    dt: float
    #: the position box, relaxed so a reference outside it may only move back in
    lo: np.ndarray
    hi: np.ndarray
    #: limit kind -> (low, high) velocity interval, in reporting order
    intervals: dict[str, tuple[np.ndarray, np.ndarray]]
    #: intersection of the hard intervals
    vlo: np.ndarray
    vhi: np.ndarray
    #: the braking bound, and where it applies (where it leaves the hard interval non-empty)
    b_lo: np.ndarray
    b_hi: np.ndarray
    use_b: np.ndarray
    #: the final interval a command velocity must lie in
    flo: np.ndarray
    fhi: np.ndarray

    def admits(self, vt: np.ndarray) -> bool:
        n = vt.size
        return np.count_nonzero(vt >= self.flo) == n and np.count_nonzero(vt <= self.fhi) == n

    def violations(self, vt: np.ndarray, modes: dict[str, str]) -> list[Intervention]:
        """One intervention per limit kind that `vt` leaves by more than rounding (mode: clamp or reject)."""
        ivs: list[Intervention] = []
        lo_t = vt + _VTOL  # vt below a lower bound by more than the tolerance <=> lo_t < bound
        hi_t = vt - _VTOL
        for kind, (klo, khi) in self.intervals.items():
            viol = (lo_t < klo) | (hi_t > khi)
            if np.count_nonzero(viol):
                ivs.append(Intervention(kind, modes[kind], tuple(np.flatnonzero(viol).tolist())))  # type: ignore[arg-type]
        # braking counts as a (position) intervention only where it is the binding bound
        bviol = self.use_b & (((hi_t > self.b_hi) & (self.b_hi < self.vhi)) | ((lo_t < self.b_lo) & (self.b_lo > self.vlo)))
        if np.count_nonzero(bviol) and not any(i.kind == "position" for i in ivs):
            ivs.append(Intervention("position", modes["position"], tuple(np.flatnonzero(bviol).tolist()),  # type: ignore[arg-type]
                                    "braking distance"))
        return ivs


def cycle_bounds(lim: JointLimits, braking: Braking, p: np.ndarray, v0: np.ndarray, dt: float) -> CycleBounds:
    """The intervals for reference `p`, previous velocity `v0`; HoldCycle (infeasible) when they are empty."""
    lo = np.minimum(lim.pos_min, p)
    hi = np.maximum(lim.pos_max, p)
    adt = lim.acc_max * dt
    intervals = {
        "position": ((lo - p) / dt, (hi - p) / dt),
        "step": (-lim.step_max / dt, lim.step_max / dt),
        "velocity": (-lim.vel_max, lim.vel_max),
        "acceleration": (v0 - adt, v0 + adt),
    }
    pos_i, step_i, vel_i, acc_i = intervals.values()
    vlo = np.maximum(np.maximum(pos_i[0], step_i[0]), np.maximum(vel_i[0], acc_i[0]))
    vhi = np.minimum(np.minimum(pos_i[1], step_i[1]), np.minimum(vel_i[1], acc_i[1]))
    # braking-distance bound: after this step we can still stop inside the box
    af = braking.af
    dt2 = dt * dt
    b_hi = braking.stop_within(np.maximum(hi - p, 0.0), dt, dt2)
    b_lo = -af * (np.sqrt(dt2 + np.maximum(p - lo, 0.0) * braking.two_over_af) - dt) - braking.inf_or_0
    blo = np.maximum(vlo, b_lo)
    bhi = np.minimum(vhi, b_hi)
    use_b = blo <= bhi
    if np.count_nonzero(use_b) == use_b.size:
        flo, fhi = blo, bhi
    else:
        flo = np.where(use_b, blo, vlo)
        fhi = np.where(use_b, bhi, vhi)
    flo, fhi = _close_rounding_gaps(flo, fhi)
    return CycleBounds(p, dt, lo, hi, intervals, vlo, vhi, b_lo, b_hi, use_b, flo, fhi)


def _close_rounding_gaps(flo: np.ndarray, fhi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Empty intervals that are empty only by rounding collapse to their midpoint; really empty ones hold."""
    empty = flo > fhi
    if not np.count_nonzero(empty):
        return flo, fhi
    gap = flo - fhi
    tiny = empty & (gap <= 1e-9 * (1.0 + np.abs(flo)))
    if not np.all(tiny == empty):
        dims = tuple(int(i) for i in np.flatnonzero(empty & ~tiny))
        raise HoldCycle([Intervention("infeasible", "reject", dims, "no command satisfies all limits from this state")])
    mid = 0.5 * (flo + fhi)
    return np.where(tiny, mid, flo), np.where(tiny, mid, fhi)


def distance_to_target(tgt: np.ndarray, p: np.ndarray) -> np.ndarray:
    """tgt - p, capped at +-_MAX_DISTANCE so nothing downstream overflows."""
    return np.minimum(np.maximum(tgt - p, -_MAX_DISTANCE), _MAX_DISTANCE)


def clamped_command(bounds: CycleBounds, braking: Braking, lim: JointLimits, tgt: np.ndarray, e: np.ndarray,
                    vt: np.ndarray, target_vel: object) -> np.ndarray:
    """The command for target velocity `vt` clipped into the bounds.

    Where we must clamp anyway, aim to *arrive* at the target: cap the speed so we can still stop on
    it (no overshoot on a static target). With `target_vel` (how fast the target moves), aim at the
    target's motion plus a closing speed (relative braking), so a lagging joint re-synchronises;
    it only shapes the catching up, it never loosens a limit."""
    flo, fhi, p, dt = bounds.flo, bounds.fhi, bounds.p, bounds.dt
    vc = np.minimum(np.maximum(vt, flo), fhi)
    changed = vc != vt
    if np.count_nonzero(changed):
        n = vt.size
        tv = np.zeros(n)
        if target_vel is not None:
            tv = np.asarray(target_vel, dtype=float)
            if tv.shape != (n,) or not np.all(np.isfinite(tv)):
                tv = np.zeros(n)
            tv = np.clip(tv, -lim.vel_max, lim.vel_max)
        d = np.abs(e)
        arrive = braking.stop_within(d, dt, dt * dt)
        shaped = tv + np.sign(e) * np.minimum(d / dt, arrive)
        vc = np.where(changed, np.minimum(np.maximum(shaped, flo), fhi), vt)
    cmd = np.where(changed, p + vc * dt, tgt)
    return np.minimum(np.maximum(cmd, bounds.lo), bounds.hi)
