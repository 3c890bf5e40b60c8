"""Wall-clock timing of repeated calls: what every latency benchmark measures the same way.

A leaf module (numpy and the standard library only) so that any benchmark -
the runtime's and the training package's GPU check alike - times calls with one
definition of "p50/p99 over N calls after W untimed ones".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def time_calls(fn: Callable[[], Any], iters: int, warmup: int) -> np.ndarray:
    """Milliseconds of each of ``iters`` calls of ``fn``, after ``warmup`` untimed calls.

    ``fn`` should return its result on the host (e.g. a chunk copied back from the GPU),
    so the time includes the device work, not only its launch.
    """
    for _ in range(warmup):
        fn()
    out = np.empty(iters)
    for i in range(iters):
        t0 = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - t0
    return out * 1e3


def summarize(ms: np.ndarray) -> dict[str, float | int]:
    """p50, p99 and mean (ms) and the count of a ``time_calls`` result, as row fields."""
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "mean_ms": float(ms.mean()), "n": int(ms.size)}
