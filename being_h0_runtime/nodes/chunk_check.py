"""Structural checks of an incoming ActionChunk, before any of it reaches an executor.

A malformed chunk (bad step_dt, no steps, wrong sizes or names) is rejected with a safety event and
changes nothing; NaN/inf values are reported apart ("nonfinite"): the node latches a fault for them,
because the policy itself is broken. See nodes/actuator.py.
"""

from __future__ import annotations

import math

import numpy as np

from ..msgs import ActionChunk
from ..msgs.convert import chunk_to_array

#: accepted chunk step periods (s): outside, time arithmetic in the executors overflows or means nothing
CHUNK_STEP_DT_RANGE = (1e-4, 10.0)
#: most steps in one chunk (a policy's horizon is tens of steps; this bounds a corrupt header's allocation)
MAX_CHUNK_STEPS = 10_000


def chunk_columns(msg: ActionChunk, joint_names: tuple[str, ...]) -> tuple[np.ndarray | None, str, str]:
    """(the chunk's columns for `joint_names` as float64 (steps, joints), "", "") or (None, problem kind, detail)."""
    seq = getattr(msg, "sequence", "?")
    dt = msg.step_dt
    lo, hi = CHUNK_STEP_DT_RANGE
    if not (isinstance(dt, (int, float, np.floating, np.integer)) and not isinstance(dt, bool)
            and math.isfinite(dt) and lo <= dt <= hi):
        return None, "step_dt", f"action chunk #{seq}: step_dt {dt!r} outside [{lo:g}, {hi:g}] s"
    if not (isinstance(msg.steps, (int, np.integer)) and 1 <= msg.steps <= MAX_CHUNK_STEPS):
        return None, "steps", f"action chunk #{seq}: {msg.steps!r} steps, need 1..{MAX_CHUNK_STEPS}"
    names = list(msg.names)
    if len(set(names)) != len(names):
        return None, "names", f"action chunk #{seq}: duplicate action names"
    missing = [n for n in joint_names if n not in names]
    if missing:
        return None, "names", f"action chunk #{seq}: no action for {missing}"
    try:
        chunk = chunk_to_array(msg)
    except (ValueError, TypeError) as err:
        return None, "shape", f"action chunk #{seq}: {err}"
    mine = chunk[:, [names.index(n) for n in joint_names]].astype(np.float64)
    if not np.all(np.isfinite(mine)):
        return None, "nonfinite", ""
    return mine, "", ""
