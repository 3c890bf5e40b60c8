"""Cyclone DDS transport: the node API over cyclonedds-python, wire-compatible with rmw_cyclonedds.

Names, QoS, payloads and the per-process domain configuration are ``dds_wire.py`` (re-exported here).

What a ROS 2 rig sees from us (so ``ros2 topic echo``, rviz and ``ros2 bag``
work against our processes and vice versa):

- topic ``/estop`` is the DDS topic ``rt/estop`` (ROS 2 name mangling);
- the DDS type name is ``<pkg>::msg::dds_::<Type>_`` (`Message.dds_type_name`);
- payloads are ROS 2 CDR (XCDR1, little endian, header ``00 01 00 00``)
  padded with zeros to a multiple of 4, exactly as cyclonedds-python's own
  writer and rmw_cyclonedds put them on the wire;
- QoS: reliability, KEEP_LAST ``depth`` history, volatile/transient-local
  durability (transient-local writers keep ``depth`` samples for late joiners);
- the participant carries rmw's USER_DATA ``enclave=/;`` and publishes
  ``ros_discovery_info`` (its nodes and their readers/writers), so ``ros2 node
  list`` / ``ros2 node info`` list our nodes (see `ros_graph`).

Why not cyclonedds' own IDL serialisation: it packs ``sequence<uint8>`` one
element at a time (~25 ms for a 640x480 RGB image).  We still register a
proper IDL struct per type (generated from `_fields`, so the topic carries
the right type name and XTypes type information), but we write and take
*pre-serialised* CDR through cyclonedds' C layer (``ddspy_write`` /
``ddspy_take``) and encode/decode with `being_h0_runtime.msgs.cdr`.

Execution is single-threaded: `spin_once` takes whatever the readers hold
(one WaitSet over every reader's ReadCondition plus a GuardCondition),
delivers it in source-timestamp order, then fires due timers.  Callbacks
never run concurrently and never on a DDS thread.  With ``use_sim_time`` the
clock follows ``/clock`` (rosgraph_msgs/Clock) and timers fire on sim time.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cyclonedds._clayer import ddspy_take, ddspy_write
from cyclonedds.core import (
    GuardCondition,
    InstanceState,
    ReadCondition,
    SampleState,
    ViewState,
    WaitSet,
)
from cyclonedds.domain import DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

from ..msgs import Clock, Message
from ..msgs.cdr import deserialize
from .api import (
    CallbackTimer,
    Context,
    ContextNode,
    Publisher,
    QoS,
    Subscription,
    normalise_topic,
)
from .dds_idl import idl_type, to_idl
from .dds_network import (
    GRAPH_ID_ENV,
    LOOPBACK,
    DdsNetwork,
    graph_partition,
)
from .dds_wire import (  # re-exported: names, QoS, payloads, domains
    DdsError,
    dds_qos,
    dds_topic_name,
    ensure_domain,
    is_graph_scoped,
    wire_payload,
)
from .ros_graph import DiscoveryInfoWriter, NodeEntities, participant_qos

__all__ = ["DdsContext", "DdsError", "DdsNode", "dds_qos", "dds_topic_name", "ensure_domain", "idl_type",
           "is_graph_scoped", "to_idl", "wire_payload"]


_ANY_STATE = SampleState.Any | ViewState.Any | InstanceState.Any
_TAKE_BATCH = 256  # samples per ddspy_take call; a reader's history never holds more than its depth


# ---------------------------------------------------------------------------------------------
# entities


class _DdsPublisher(Publisher):
    def __init__(self, ctx: DdsContext, topic: str, msg_type: type[Message], qos: QoS) -> None:
        self.topic, self.msg_type, self.qos = topic, msg_type, qos
        self._writer = DataWriter(ctx._participant, ctx._topic(topic, msg_type),
                                  qos=dds_qos(qos, writer=True, partition=ctx.partition_for(topic)))
        self._ref = self._writer._ref
        self.gid = self._writer.guid.bytes  # what ros_discovery_info lists for this writer

    def publish(self, msg: Message) -> None:
        if type(msg) is not self.msg_type:
            raise TypeError(f"{self.topic} carries {self.msg_type._type}, got {type(msg).__name__}")
        ret = ddspy_write(self._ref, wire_payload(msg))
        if ret < 0:
            raise DdsError(f"dds write on {self.topic} failed with code {ret}")


class _DdsSubscription(Subscription):
    def __init__(self, ctx: DdsContext, topic: str, msg_type: type[Message], callback: Callable[[Any], None],
                 qos: QoS) -> None:
        self._ctx = ctx
        self.topic, self.msg_type, self.qos, self.callback = topic, msg_type, qos, callback
        self._reader = DataReader(ctx._participant, ctx._topic(topic, msg_type),
                                  qos=dds_qos(qos, writer=False, partition=ctx.partition_for(topic)))
        self._ref = self._reader._ref
        self.gid = self._reader.guid.bytes
        self._condition = ReadCondition(self._reader, _ANY_STATE)
        ctx._waitset.attach(self._condition)
        self.alive = True

    def take(self) -> list[tuple[int, bytes]]:
        """(source timestamp ns, payload) of every sample the reader holds, oldest first."""
        ret = ddspy_take(self._ref, _ANY_STATE, _TAKE_BATCH)
        if isinstance(ret, int):
            raise DdsError(f"dds take on {self.topic} failed with code {ret}")
        return [(info.source_timestamp, data) for data, info in ret if info.valid_data]

    def destroy(self) -> None:
        if self.alive:
            self.alive = False
            self._ctx._waitset.detach(self._condition)
            self._ctx._subscriptions.remove(self)
            self._condition.__del__()
            self._reader.__del__()
            self._ctx._graph_changed()


_DdsTimer = CallbackTimer


class DdsNode(ContextNode):
    """A node handle; remembers its readers and writers so ROS 2 tools can list them per node."""

    def __init__(self, ctx: DdsContext, name: str, parameters: dict[str, Any] | None) -> None:
        super().__init__(ctx, name, parameters)
        self._publishers: list[_DdsPublisher] = []
        self._subscriptions: list[_DdsSubscription] = []

    def create_publisher(self, msg_type, topic, qos=QoS()):
        pub = super().create_publisher(msg_type, topic, qos)
        self._publishers.append(pub)
        self._ctx._graph_changed()
        return pub

    def create_subscription(self, msg_type, topic, callback, qos=QoS()):
        sub = super().create_subscription(msg_type, topic, callback, qos)
        self._subscriptions.append(sub)
        self._ctx._graph_changed()
        return sub

    def entities(self) -> NodeEntities:
        readers = [s.gid for s in self._subscriptions if s.alive]
        if self._ctx._clock_sub is not None:  # as rclpy: every sim-time node reads /clock
            readers.append(self._ctx._clock_sub.gid)
        return NodeEntities(self.name, "/", readers, [p.gid for p in self._publishers])

    def request_shutdown(self, reason: str = "") -> None:
        super().request_shutdown(reason)
        self._ctx._wake.set(True)  # wake a spin_once blocked in the waitset


@dataclass
class _TopicEntry:
    msg_type: type[Message]
    topic: Topic


class DdsContext(Context):
    """One DDS participant, its nodes, and a single-threaded executor over them.

    domain_id: DDS domain (default: the network's pinned domain, else $ROS_DOMAIN_ID, else 0).
    use_sim_time: follow /clock (rosgraph_msgs/Clock) instead of the wall clock;
        `now()` is 0.0 until the first /clock message arrives, as in ROS 2.
    network: interface selection (default: loopback only, whatever ``CYCLONEDDS_URI`` says).
    graph_id: the launch this participant belongs to (default: $BEING_H0_GRAPH_ID); graph-scoped
        topics are exchanged only with participants of the same graph.
    """

    def __init__(self, domain_id: int | None = None, use_sim_time: bool = False,
                 network: DdsNetwork | None = None, graph_id: str | None = None) -> None:
        self.network = network or LOOPBACK
        if domain_id is None:
            domain_id = self.network.domain_id
        if domain_id is None:
            domain_id = int(os.environ.get("ROS_DOMAIN_ID", "0") or 0)
        if not 0 <= domain_id <= 232:
            raise ValueError(f"DDS domain id must be in 0..232, got {domain_id}")
        self.domain_id = domain_id
        self.use_sim_time = use_sim_time
        if graph_id is None:
            graph_id = os.environ.get(GRAPH_ID_ENV) or None
        self.graph_id = graph_id
        self._partition = graph_partition(graph_id) if graph_id and self.network.isolation == "partition" else None
        ensure_domain(domain_id, self.network)
        self._participant = DomainParticipant(domain_id, qos=participant_qos())  # enclave=/; as rmw sets it
        self._discovery = DiscoveryInfoWriter(self._participant)
        self._waitset = WaitSet(self._participant)
        self._wake = GuardCondition(self._participant)
        self._waitset.attach(self._wake)
        self._topics: dict[str, _TopicEntry] = {}
        self._subscriptions: list[_DdsSubscription] = []
        self._timers: list[tuple[float, int, _DdsTimer]] = []
        self._seq = itertools.count()
        self._last_wall = 0.0
        self._sim_now = 0.0
        self._closed = False
        self.nodes: list[DdsNode] = []
        self.shutdown_requests: list[tuple[str, str]] = []
        self._clock_sub: _DdsSubscription | None = None
        if use_sim_time:
            # as rclpy's TimeSource: best effort, depth 1 (only the newest time matters)
            self._clock_sub = _DdsSubscription(self, "/clock", Clock, self._on_clock, QoS("best_effort", 1))

    # -- creation -----------------------------------------------------------------
    def partition_for(self, topic: str) -> str | None:
        """The DDS partition `topic` is exchanged in: the graph's for graph-scoped topics, else the default."""
        return self._partition if is_graph_scoped(topic) else None

    def create_node(self, name: str, parameters: dict[str, Any] | None = None) -> DdsNode:
        self._check_open()
        node = DdsNode(self, name, parameters)
        self.nodes.append(node)
        self._graph_changed()
        return node

    def _graph_changed(self) -> None:
        """Republish ros_discovery_info (latched, depth 1) after a node, reader or writer came or went."""
        if not self._closed:
            self._discovery.publish([n.entities() for n in self.nodes])

    def _topic(self, topic: str, msg_type: type[Message]) -> Topic:
        entry = self._topics.get(topic)
        if entry is None:
            entry = _TopicEntry(msg_type, Topic(self._participant, dds_topic_name(topic), idl_type(msg_type)))
            self._topics[topic] = entry
        elif entry.msg_type is not msg_type:
            raise DdsError(f"topic {topic} already carries {entry.msg_type._type}, not {msg_type._type}")
        return entry.topic

    def _publisher(self, msg_type: type[Message], topic: str, qos: QoS) -> _DdsPublisher:
        self._check_open()
        return _DdsPublisher(self, normalise_topic(topic), msg_type, qos)

    def _subscription(self, msg_type: type[Message], topic: str, callback: Callable[[Any], None],
                      qos: QoS) -> _DdsSubscription:
        self._check_open()
        sub = _DdsSubscription(self, normalise_topic(topic), msg_type, callback, qos)
        self._subscriptions.append(sub)
        return sub

    def _timer(self, period: float, callback: Callable[[], None]) -> _DdsTimer:
        self._check_open()
        timer = _DdsTimer(period, callback)
        heapq.heappush(self._timers, (self.now() + timer.period, next(self._seq), timer))
        return timer

    def _check_open(self) -> None:
        if self._closed:
            raise DdsError("DdsContext is shut down")

    # -- clock --------------------------------------------------------------------
    def now(self) -> float:
        if self.use_sim_time:
            return self._sim_now
        t = time.time()
        if t < self._last_wall:  # never let a wall-clock step make node time go backwards
            return self._last_wall
        self._last_wall = t
        return t

    def _on_clock(self, msg: Clock) -> None:
        self._sim_now = msg.clock.to_sec()

    def _poll_clock(self) -> None:
        if self._clock_sub is not None:
            samples = self._clock_sub.take()
            if samples:
                self._on_clock(deserialize(samples[-1][1], Clock))

    # -- running ------------------------------------------------------------------
    def _deliver(self) -> int:
        batch: list[tuple[int, int, _DdsSubscription, bytes]] = []
        for i, sub in enumerate(self._subscriptions):
            for stamp, data in sub.take():
                batch.append((stamp, i, sub, data))
        if not batch:
            return 0
        batch.sort(key=lambda b: (b[0], b[1]))  # stable: per-reader FIFO kept for equal stamps
        for _, _, sub, data in batch:
            if sub.alive:
                sub.callback(deserialize(data, sub.msg_type))
        return len(batch)

    def _fire_timers(self) -> int:
        fired = 0
        now = self.now()
        while self._timers and self._timers[0][0] <= now:
            due, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            # next due from the schedule, not from "now" (no drift); skip missed periods (no bursts)
            nxt = due + timer.period
            if nxt <= now:
                nxt = due + timer.period * (math.floor((now - due) / timer.period) + 1)
            heapq.heappush(self._timers, (nxt, next(self._seq), timer))
            timer.callback()
            fired += 1
        return fired

    def _next_timer_due(self) -> float | None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def spin_once(self, timeout_s: float = 0.1) -> bool:
        """Deliver what the readers hold and fire due timers, waiting up to timeout_s for either."""
        self._check_open()
        self._poll_clock()
        n = self._deliver() + self._fire_timers()
        if n:
            return True
        wait = max(0.0, timeout_s)
        due = self._next_timer_due()
        if due is not None and not self.use_sim_time:
            wait = min(wait, max(0.0, due - self.now()))
        if wait > 0:
            self._waitset.wait(int(wait * 1e9))
        self._wake.set(False)
        self._poll_clock()
        return bool(self._deliver() + self._fire_timers())

    def spin(self, until_shutdown_requested: bool = True) -> None:
        """Spin until a node calls request_shutdown (or forever)."""
        while not (until_shutdown_requested and self.shutdown_requests):
            self.spin_once(1.0)

    def shutdown(self) -> None:
        """Delete the participant and everything in it; idempotent."""
        if self._closed:
            return
        self._closed = True
        for sub in list(self._subscriptions):
            sub.alive = False
        self._subscriptions.clear()
        self._timers.clear()
        self._participant.__del__()  # dds_delete: deletes readers, writers, topics, waitset with it
