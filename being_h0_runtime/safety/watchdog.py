"""Command watchdog: hold when commands stop arriving, latch after faults.

Two different ways of stopping, with different ways of resuming:

* *stale* — no fresh command within `deadline_s`. Cleared by the next fresh
  command (`feed`), because nothing is wrong except a slow producer.
* *fault* — something went wrong (e-stop, NaN command, driver fault). Fresh
  commands are ignored until an operator calls `operator_reset()`, and even
  then motion waits for the next fresh command (state "waiting"), so a chunk
  computed before the fault is never executed after it.
"""

from __future__ import annotations

import math
from typing import Literal

WatchdogState = Literal["waiting", "ok", "stale", "fault"]


class Watchdog:
    def __init__(self, deadline_s: float) -> None:
        if not (isinstance(deadline_s, (int, float)) and math.isfinite(deadline_s) and deadline_s > 0):
            raise ValueError(f"deadline_s must be a positive finite number of seconds, got {deadline_s!r}")
        self.deadline_s = float(deadline_s)
        self._state: WatchdogState = "waiting"
        self._last_feed: float | None = None
        self.fault_reason: str | None = None
        self.expiries = 0  # how many times it went ok -> stale

    @property
    def state(self) -> WatchdogState:
        return self._state

    @property
    def last_feed(self) -> float | None:
        return self._last_feed

    def feed(self, now: float) -> bool:
        """Report a fresh command at `now`. Returns False (and changes nothing) while faulted."""
        if self._state == "fault":
            return False
        self._last_feed = now
        self._state = "ok"
        return True

    def check(self, now: float) -> bool:
        """True if motion must hold (never fed, stale, or faulted)."""
        if self._state == "ok":
            assert self._last_feed is not None
            # `not (<=)` also catches a NaN clock reading
            if not (now - self._last_feed <= self.deadline_s):
                self._state = "stale"
                self.expiries += 1
        return self._state != "ok"

    def fault(self, reason: str) -> None:
        """Latch a fault: only `operator_reset()` clears it."""
        self._state = "fault"
        self.fault_reason = reason

    def operator_reset(self) -> None:
        """Clear a fault; motion still waits for the next fresh command."""
        if self._state == "fault":
            self._state = "waiting"
            self.fault_reason = None
            self._last_feed = None
