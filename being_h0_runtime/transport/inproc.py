"""Deterministic in-process transport with a simulated clock.

Everything runs on one thread.  `spin_once` first delivers every pending
message (FIFO over all topics, in publish order), then advances the clock to
the next timer due time and fires the timers due then (in creation order).
Time never advances while messages are pending, so a run depends only on the
nodes' code and seeds, never on the machine's load: the same episode gives
the same outcome on a loaded CI box and on a laptop.

Messages are delivered by reference (no copy, like ROS 2 intra-process
communication); subscribers must treat received messages as read-only.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from ..msgs import Message
from .api import CallbackTimer, Context, ContextNode, Publisher, QoS, Subscription, normalise_topic


class InprocError(RuntimeError):
    pass


@dataclass
class _Topic:
    name: str
    msg_type: type[Message]
    subscriptions: list["_InprocSubscription"] = field(default_factory=list)
    publishers: list["_InprocPublisher"] = field(default_factory=list)


class _InprocPublisher(Publisher):
    def __init__(self, ctx: "InprocContext", topic: _Topic, qos: QoS) -> None:
        self._ctx, self._topic, self.qos = ctx, topic, qos
        self.topic, self.msg_type = topic.name, topic.msg_type
        self._history: deque[Message] = deque(maxlen=qos.depth)

    def publish(self, msg: Message) -> None:
        if not isinstance(msg, self.msg_type):
            raise TypeError(f"{self.topic} carries {self.msg_type._type}, got {type(msg).__name__}")
        if self.qos.durability == "transient_local":
            self._history.append(msg)
        for sub in self._topic.subscriptions:
            self._ctx._enqueue(sub, msg)


class _InprocSubscription(Subscription):
    def __init__(self, ctx: "InprocContext", topic: _Topic, callback: Callable[[Any], None], qos: QoS) -> None:
        self._ctx, self._topic, self.qos, self.callback = ctx, topic, qos, callback
        self.topic, self.msg_type = topic.name, topic.msg_type
        self.queue: deque[Message] = deque(maxlen=qos.depth)
        self.alive = True

    def destroy(self) -> None:
        self.alive = False
        if self in self._topic.subscriptions:
            self._topic.subscriptions.remove(self)


_InprocTimer = CallbackTimer


class InprocNode(ContextNode):
    """Node handle of the in-process executor (all forwarding lives in ContextNode)."""


class InprocContext(Context):
    """The deterministic executor.  `max_deliveries` guards against ping-pong loops."""

    def __init__(self, start_time: float = 0.0, max_deliveries_per_instant: int = 100_000) -> None:
        self._now = float(start_time)
        self._topics: dict[str, _Topic] = {}
        self._pending: deque[_InprocSubscription] = deque()
        self._timers: list[tuple[float, int, _InprocTimer]] = []
        self._seq = itertools.count()
        self._max_deliveries = max_deliveries_per_instant
        self.nodes: list[InprocNode] = []
        self.shutdown_requests: list[tuple[str, str]] = []

    # -- creation -----------------------------------------------------------------
    def create_node(self, name: str, parameters: dict[str, Any] | None = None) -> InprocNode:
        node = InprocNode(self, name, parameters)
        self.nodes.append(node)
        return node

    def _get_topic(self, msg_type: type[Message], topic: str) -> _Topic:
        name = normalise_topic(topic)
        t = self._topics.get(name)
        if t is None:
            t = self._topics[name] = _Topic(name, msg_type)
        elif t.msg_type is not msg_type:
            raise InprocError(f"topic {name} already carries {t.msg_type._type}, not {msg_type._type}")
        return t

    def _publisher(self, msg_type, topic, qos):
        t = self._get_topic(msg_type, topic)
        pub = _InprocPublisher(self, t, qos)
        t.publishers.append(pub)
        return pub

    def _subscription(self, msg_type, topic, callback, qos):
        t = self._get_topic(msg_type, topic)
        sub = _InprocSubscription(self, t, callback, qos)
        t.subscriptions.append(sub)
        if qos.durability == "transient_local":
            for pub in t.publishers:
                for msg in pub._history:
                    self._enqueue(sub, msg)
        return sub

    def _timer(self, period, callback):
        timer = _InprocTimer(period, callback)
        heapq.heappush(self._timers, (self._now + period, next(self._seq), timer))
        return timer

    def _enqueue(self, sub: _InprocSubscription, msg: Message) -> None:
        if len(sub.queue) == sub.queue.maxlen:
            sub.queue.popleft()  # oldest dropped, as a full DDS history does
        else:
            self._pending.append(sub)
        sub.queue.append(msg)

    # -- running ------------------------------------------------------------------
    def now(self) -> float:
        return self._now

    def deliver_pending(self) -> int:
        n = 0
        while self._pending:
            sub = self._pending.popleft()
            if not sub.queue:
                continue
            msg = sub.queue.popleft()
            if sub.alive:
                sub.callback(msg)
            n += 1
            if n > self._max_deliveries:
                raise InprocError(f"more than {self._max_deliveries} messages at t={self._now}: a publish loop?")
        return n

    def spin_once(self, timeout_s: float = 0.1) -> bool:
        if self.deliver_pending():
            return True
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        if not self._timers:
            return False
        due = self._timers[0][0]
        self._now = max(self._now, due)
        while self._timers and self._timers[0][0] <= self._now:
            timer_due, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            # reschedule from the due time (not from "now") so periods do not drift
            heapq.heappush(self._timers, (timer_due + timer.period, next(self._seq), timer))
            timer.callback()
            self.deliver_pending()
        return True

    def run_for(self, seconds: float) -> None:
        self.run_until(lambda: False, seconds)

    def run_until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Spin until predicate() holds or the *simulated* clock moved timeout_s."""
        end = self._now + timeout_s
        while not predicate():
            while self._timers and self._timers[0][2].cancelled:
                heapq.heappop(self._timers)
            if not self._pending and (not self._timers or self._timers[0][0] > end):
                self._now = max(self._now, end)
                return bool(predicate())
            self.spin_once()
        return True
