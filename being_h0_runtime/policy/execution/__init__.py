"""How an action chunk becomes one action per control cycle.

The policy returns a chunk of T future actions, but inference takes time and
chunks overlap. These executors decide which action to send *now* and when
the inference side should ask for the next chunk. They are pure functions of
the times they are given (no clock of their own), so the same code runs on a
sim clock, in tests and on the rig.

Time convention: `chunk[i]` is the action meant for time
`obs_time + i * step_dt`, i.e. step 0 is "at the observation". A chunk that
arrives `L` seconds after its observation therefore starts around step
`L / step_dt`.

Protocol for the caller (inference node)::

    if ex.needs_inference(now):
        ex.mark_requested(now)          # optional; stops duplicate requests
        ... later: ex.on_chunk(chunk, obs_time, arrival_time, step_dt)
    a = ex.action_at(now)               # None -> nothing to execute: hold

Actions go to the safety supervisor afterwards; nothing here is a safety
mechanism.

One module per strategy: sync.py, latency.py (async), crossfade.py, ensemble.py, rtc.py; base.py holds
what they share and metrics.py the smoothness figures the strategies bench uses.
"""

from __future__ import annotations

from .base import MIN_STEP_DT_S, ChunkExecutor
from .crossfade import CrossFadeExecutor
from .ensemble import TemporalEnsembleExecutor
from .latency import AsyncLatencyCompensatedExecutor
from .metrics import max_boundary_step, trajectory_jerk
from .rtc import RealTimeChunkingExecutor, rtc_prefix_weights
from .sync import SynchronousExecutor

_EXECUTORS: dict[str, type[ChunkExecutor]] = {
    "sync": SynchronousExecutor,
    "async": AsyncLatencyCompensatedExecutor,
    "ensemble": TemporalEnsembleExecutor,
    "crossfade": CrossFadeExecutor,
    "rtc": RealTimeChunkingExecutor,
}


def make_executor(name: str, **params: object) -> ChunkExecutor:
    """Build an executor by name: "sync", "async", "ensemble", "crossfade" or "rtc"."""
    try:
        cls = _EXECUTORS[name]
    except KeyError:
        raise ValueError(f"unknown execution strategy {name!r}; choose one of {sorted(_EXECUTORS)}") from None
    try:
        return cls(**params)  # type: ignore[arg-type]
    except TypeError as e:
        raise ValueError(f"execution strategy {name!r}: bad parameters {sorted(params)}: {e}") from None


__all__ = [
    "MIN_STEP_DT_S",
    "AsyncLatencyCompensatedExecutor",
    "ChunkExecutor",
    "CrossFadeExecutor",
    "RealTimeChunkingExecutor",
    "SynchronousExecutor",
    "TemporalEnsembleExecutor",
    "make_executor",
    "max_boundary_step",
    "rtc_prefix_weights",
    "trajectory_jerk",
]
