"""What one motion node tells the others on /estop, so every motion node stops alike (ISSUE #16).

* a fault latched on this node goes out at once as an engaged stop, source "<node>:fault:<what>";
* a foot switch wired to this node: each momentary press is relayed as a stop, its held state as a
  *held* stop ("<node>:<switch source>", held=True) re-published every `reassert_period_s` (nodes that
  missed it catch up), its release as a release;
* queued messages leave one per control tick (`publish_one`), never from inside a delivery.
"""

from __future__ import annotations

import math
from collections import deque

from ..msgs import EStop
from ..msgs.convert import header
from ..safety.estop import EStopEvent, EStopLatch
from ..transport.api import Publisher


class EStopRelay:
    def __init__(self, node_name: str, estop: EStopLatch, publisher: Publisher[EStop], reassert_period_s: float,
                 footswitch_source: str | None = None) -> None:
        self.node_name = node_name
        self.estop = estop
        self.publisher = publisher
        self.reassert_period_s = reassert_period_s
        self.footswitch_source = footswitch_source
        #: faults already relayed (until the operator's reset)
        self.relayed_faults: set[str] = set()
        self._momentary: deque[str] = deque(maxlen=64)  # pedal presses (momentary wiring) not yet relayed
        #: engaged relays waiting for a control tick (one /estop message per tick: see publish_one)
        self._outbox: deque[EStop] = deque(maxlen=64)
        self._held_relayed: bool | None = None
        self._held_relayed_at = -math.inf

    def on_local_estop_event(self, ev: EStopEvent) -> None:
        # runs in the foot switch's thread: only queue, the control tick publishes
        if ev.kind == "trigger" and self.footswitch_source is not None and ev.source == self.footswitch_source:
            self._momentary.append(ev.reason)

    def queue_footswitch(self, now: float) -> None:
        """Queue this node's foot switch presses (momentary wiring); queue its held state when nothing else is."""
        if self.footswitch_source is None:
            return
        src = self.footswitch_source
        relay_source = f"{self.node_name}:{src}"
        while self._momentary:
            reason = self._momentary.popleft()
            self._outbox.append(EStop(header=header(now), engaged=True, source=relay_source, reason=reason))
        held = {s: r for s, r in self.estop.asserted_sources.items() if s == src or s.startswith(src + ":")}
        due = bool(held) != self._held_relayed or now - self._held_relayed_at >= self.reassert_period_s
        if due and not self._outbox:  # engaged relays first; the state goes out on the next free tick
            if held:
                msg = EStop(header=header(now), engaged=True, held=True, source=relay_source, reason="; ".join(held.values()))
            else:
                msg = EStop(header=header(now), engaged=False, held=False, source=relay_source,
                            reason="foot switch released")
            self._outbox.append(msg)
            self._held_relayed, self._held_relayed_at = bool(held), now

    def relay_faults(self, now: float, faults: dict[str, str]) -> bool:
        """A fault latched here (not an e-stop heard from elsewhere) stops every other motion node too.

        Published at once, even from inside a delivery: an engaged message may replace another stop
        in a depth-1 reader without harm (both stop). Returns True if anything was published."""
        sent = False
        for what, why in faults.items():
            if what != "estop" and what not in self.relayed_faults:
                self.relayed_faults.add(what)
                self.publisher.publish(EStop(header=header(now), engaged=True,
                                             source=f"{self.node_name}:fault:{what}", reason=why))
                sent = True
        return sent

    def publish_one(self) -> None:
        """At most one queued /estop message per tick, and only from the tick itself: even a reader that kept
        only one message must never see a release replace a stop that was published just before it."""
        if self._outbox:
            self.publisher.publish(self._outbox.popleft())
