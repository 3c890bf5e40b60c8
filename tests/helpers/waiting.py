"""Waiting on a condition instead of sleeping a fixed time: poll until it holds or a deadline passes.

The timeouts are upper bounds for "something is stuck" (generous, the test host is loaded), never
what a test measures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol


def wait_until(pred: Callable[[], object], timeout: float, poll_s: float = 0.005) -> bool:
    """True as soon as `pred()` is truthy; False when it is still not after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(poll_s)
    return False


class Spinnable(Protocol):
    def spin_once(self, timeout: float) -> object: ...


def spin_until(contexts: Iterable[Spinnable], seconds: float, until: Callable[[], object] = lambda: False,
               poll_s: float = 0.002) -> bool:
    """Spin every transport context (callbacks run here, on the test's thread) until `until()` holds.

    Returns `until()`'s last value, so `spin_until(ctxs, 0.1)` just spins for 0.1 s."""
    contexts = list(contexts)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for c in contexts:
            c.spin_once(0.0)
        if until():
            return True
        time.sleep(poll_s)
    return bool(until())
