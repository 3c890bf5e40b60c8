"""The safety filter's first step: the inputs it may compute with (a period, a target, a reference, a velocity).

Anything else (a period outside [MIN_DT_S, MAX_DT_S], a wrong shape, NaN/inf, an implausibly large
reference) ends the cycle in a hold with a fault: it means something upstream is broken.
"""

from __future__ import annotations

import math

import numpy as np

from being_h0_runtime.safety.interventions import HoldCycle, Intervention

#: A control period outside this range is a bug upstream (a denormal dt turns every velocity
#: bound into an overflow, a dt of hours into "anything goes"): such a cycle holds.
MIN_DT_S = 1e-6
MAX_DT_S = 10.0
#: No joint position, closure or joint velocity of a real device is this large: a reference or a
#: previous velocity beyond it is a broken sensor or a corrupted message, never something to move from.
MAX_PLAUSIBLE = 1e6


def checked_dt(dt: object) -> float:
    """`dt` as a float, or HoldCycle (bad_dt) when it is not a sane control period."""
    try:
        dt_ok = (isinstance(dt, (int, float, np.floating)) and not isinstance(dt, bool)
                 and math.isfinite(dt) and MIN_DT_S <= dt <= MAX_DT_S)
    except TypeError:
        dt_ok = False
    if not dt_ok:
        raise HoldCycle([Intervention("bad_dt", "reject", (),
                                      f"dt must be in [{MIN_DT_S:g}, {MAX_DT_S:g}] s, got {dt!r}", fault=True)])
    return float(dt)  # type: ignore[arg-type]


def checked_vector(name: str, x: object, n: int) -> np.ndarray:
    """`x` as a finite float vector of shape (n,), or HoldCycle (shape / nonfinite)."""
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as e:
        raise HoldCycle([Intervention("shape", "reject", (), f"{name}: not numeric ({e})", fault=True)]) from None
    if a.shape != (n,):
        raise HoldCycle([Intervention("shape", "reject", (), f"{name}: expected shape ({n},), got {a.shape}",
                                      fault=True)])
    if np.count_nonzero(np.isfinite(a)) != n:
        bad = ~np.isfinite(a)
        raise HoldCycle([Intervention("nonfinite", "reject", tuple(int(i) for i in np.flatnonzero(bad)),
                                      f"{name}: NaN/inf", fault=True)])
    return a


def checked_reference(name: str, x: object, n: int) -> np.ndarray:
    """Like checked_vector, and the values must be physically plausible (|x| <= MAX_PLAUSIBLE)."""
    a = checked_vector(name, x, n)
    if np.count_nonzero(np.abs(a) <= MAX_PLAUSIBLE) != a.size:
        bad = tuple(int(i) for i in np.flatnonzero(~(np.abs(a) <= MAX_PLAUSIBLE)))
        raise HoldCycle([Intervention("implausible", "reject", bad, f"{name}: |value| > {MAX_PLAUSIBLE:g}",
                                      fault=True)])
    return a
