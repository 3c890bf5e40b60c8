"""Latched emergency stop.

Triggering is cheap, thread-safe and never fails; resetting is explicit,
names an operator, and is refused while any level source (a foot switch
still pressed, a lost link) keeps asserting the stop. Every trigger, release
and reset is kept as a timestamped event for the episode log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

_log = logging.getLogger(__name__)

#: events kept for the log (oldest dropped): a latch lives as long as its node, for days on a rig
MAX_EVENTS = 65536

EventKind = Literal["trigger", "assert", "release", "reset", "reset_refused"]


@dataclass(frozen=True)
class EStopEvent:
    kind: EventKind
    source: str  # who triggered/asserted/released; the operator for resets
    reason: str
    stamp: float


class EStopResetRefused(RuntimeError):
    """Reset was asked for but is not allowed now (no operator, or a source still asserts)."""


class EStopLatch:
    """A latch any thread may trip; only `reset(operator)` clears it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._latched = False
        self._asserted: dict[str, str] = {}  # source -> reason, for level sources
        self._events: deque[EStopEvent] = deque(maxlen=MAX_EVENTS)
        self._callbacks: list[Callable[[EStopEvent], None]] = []
        self.trigger_count = 0

    # A plain attribute read: safe to call from a 1 kHz loop without the lock.
    @property
    def is_latched(self) -> bool:
        return self._latched

    @property
    def asserted_sources(self) -> dict[str, str]:
        with self._lock:
            return dict(self._asserted)

    @property
    def events(self) -> list[EStopEvent]:
        """The last MAX_EVENTS events, oldest first."""
        with self._lock:
            return list(self._events)

    @property
    def last_trigger(self) -> EStopEvent | None:
        with self._lock:
            for e in reversed(self._events):
                if e.kind in ("trigger", "assert"):
                    return e
        return None

    def subscribe(self, callback: Callable[[EStopEvent], None]) -> None:
        """Call `callback(event)` on every trigger (e.g. to publish /estop). Runs in the trigger's thread."""
        self._callbacks.append(callback)

    def trigger(self, source: str, reason: str, now: float | None = None) -> None:
        """Latch the stop. Never raises; callbacks that raise are ignored (the latch is what counts)."""
        stamp = self._clock() if now is None else now
        # set the flag first: a control loop polling is_latched must see it as early as possible
        self._latched = True
        ev = EStopEvent("trigger", source, reason, stamp)
        with self._lock:
            self.trigger_count += 1
            self._events.append(ev)
            # again under the lock: a reset() racing with this trigger cannot un-latch it
            self._latched = True
        self._notify(ev)

    def set_asserted(self, source: str, active: bool, reason: str = "", now: float | None = None) -> None:
        """A level source (pedal held, link lost) starts/stops asserting. Asserting also triggers."""
        stamp = self._clock() if now is None else now
        if active:
            self._latched = True
            ev = EStopEvent("assert", source, reason, stamp)
            with self._lock:
                self.trigger_count += 1
                self._asserted[source] = reason
                self._events.append(ev)
                self._latched = True
            self._notify(ev)
        else:
            with self._lock:
                if source in self._asserted:
                    del self._asserted[source]
                    self._events.append(EStopEvent("release", source, reason, stamp))

    def reset(self, operator: str, now: float | None = None) -> None:
        """Clear the latch on an operator's explicit request.

        Raises EStopResetRefused without an operator name or while a source
        still asserts the stop.
        """
        stamp = self._clock() if now is None else now
        with self._lock:
            if not isinstance(operator, str) or not operator.strip():
                self._events.append(EStopEvent("reset_refused", str(operator), "no operator named", stamp))
                raise EStopResetRefused("e-stop reset needs the operator's name")
            if self._asserted:
                why = ", ".join(f"{s}: {r}" for s, r in self._asserted.items())
                self._events.append(EStopEvent("reset_refused", operator, f"still asserted by {why}", stamp))
                raise EStopResetRefused(f"e-stop still asserted by {why}")
            self._events.append(EStopEvent("reset", operator, "operator reset", stamp))
            self._latched = False

    def _notify(self, ev: EStopEvent) -> None:
        for cb in list(self._callbacks):
            try:
                cb(ev)
            except Exception:  # a broken listener must not un-trigger the stop
                _log.exception("e-stop listener failed (latch stays set)")
