"""The node API every node is written against, whatever carries its messages.

A node is a plain class taking a `NodeHandle`.  Adapters (`inproc`, `dds`,
`ros2`) implement `NodeHandle` and a `Context` that creates handles and runs
their callbacks.  Nodes never import an adapter.

Rules every adapter keeps (checked by tests/test_transport_contract.py):

- Callbacks of one context never run concurrently (single-threaded executor),
  so node code needs no locks.
- `publish` never blocks on subscribers.
- QoS: reliable delivery keeps up to `depth` undelivered messages per
  subscription (oldest dropped first); best-effort may drop; transient-local
  publishers replay their last `depth` messages to subscriptions created
  later (as ROS 2 latched topics do).
- Time comes from `handle.now()`: simulated time under the inproc executor
  and under ``use_sim_time`` (driven by /clock), wall time otherwise.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from typing import Any, Callable, Generic, Literal, TypeVar

from ..msgs import Message, Time

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class QoS:
    reliability: Literal["reliable", "best_effort"] = "reliable"
    depth: int = 10
    durability: Literal["volatile", "transient_local"] = "volatile"

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise ValueError(f"QoS depth must be >= 1, got {self.depth}")


#: subscribing to camera streams and other high-rate data where only the newest sample matters
#: (a best-effort reader matches reliable and best-effort writers and never slows a writer down)
SENSOR_QOS = QoS("best_effort", 2, "volatile")
#: publishing a camera stream, as realsense-ros offers it: reliable, so a subscriber with ROS 2's default
#: QoS (reliable, keep last 10) matches -- a best-effort writer silently matches no reliable reader --
#: and shallow (2), so a slow reader costs at most two frames of writer memory; `being-h0 bench dds`
#: measures it (reliable depth 2 keeps the best-effort throughput on loopback)
SENSOR_PUB_QOS = QoS("reliable", 2, "volatile")
#: publishing /joint_states, as ros2_control's joint_state_broadcaster does (reliable, keep last 10)
JOINT_STATE_QOS = QoS("reliable", 10, "volatile")
#: state that a late joiner must see (e-stop, task status, calibration ids)
LATCHED_QOS = QoS("reliable", 1, "transient_local")
#: commands and chunks
COMMAND_QOS = QoS("reliable", 10, "volatile")
#: /estop, for every writer and reader: latched for late joiners, and deep enough that a stop followed at once by
#: another stop (or a pedal relay) is never overwritten in a KEEP_LAST history before it is read
ESTOP_QOS = QoS("reliable", 16, "transient_local")


class Publisher(abc.ABC, Generic[M]):
    topic: str
    msg_type: type[M]

    @abc.abstractmethod
    def publish(self, msg: M) -> None: ...


class Subscription(abc.ABC, Generic[M]):
    topic: str
    msg_type: type[M]

    @abc.abstractmethod
    def destroy(self) -> None: ...


class Timer(abc.ABC):
    period: float

    @abc.abstractmethod
    def cancel(self) -> None: ...


class NodeHandle(abc.ABC):
    """What a node may do: pub/sub, timers, clock, parameters, logging."""

    name: str
    logger: logging.Logger

    def __init__(self, name: str, parameters: dict[str, Any] | None = None) -> None:
        self.name = name
        self.parameters: dict[str, Any] = dict(parameters or {})
        self.logger = logging.getLogger(f"being_h0.{name}")

    @abc.abstractmethod
    def create_publisher(self, msg_type: type[M], topic: str, qos: QoS = QoS()) -> Publisher[M]: ...

    @abc.abstractmethod
    def create_subscription(
        self, msg_type: type[M], topic: str, callback: Callable[[M], None], qos: QoS = QoS()
    ) -> Subscription[M]: ...

    @abc.abstractmethod
    def create_timer(self, period_s: float, callback: Callable[[], None]) -> Timer: ...

    @abc.abstractmethod
    def now(self) -> float:
        """Seconds on this node's clock (sim time when simulated)."""

    def now_msg(self) -> Time:
        return Time.from_sec(self.now())

    def get_parameter(self, name: str, default: Any = None) -> Any:
        return self.parameters.get(name, default)

    def request_shutdown(self, reason: str = "") -> None:
        """Ask the context to stop spinning (e.g. the task is over)."""
        self.logger.info("shutdown requested: %s", reason)
        self._shutdown_reason = reason or "requested"

    @property
    def shutdown_reason(self) -> str | None:
        return getattr(self, "_shutdown_reason", None)


class CallbackTimer(Timer):
    """The timer record both executors keep: a period, a callback and a cancelled flag."""

    def __init__(self, period: float, callback: Callable[[], None]) -> None:
        if not period > 0:  # also rejects NaN
            raise ValueError(f"timer period must be > 0, got {period}")
        self.period, self.callback, self.cancelled = float(period), callback, False

    def cancel(self) -> None:
        self.cancelled = True


class ContextNode(NodeHandle):
    """A node handle that forwards to its context's `_publisher` / `_subscription` / `_timer` / `now`
    and records shutdown requests in `context.shutdown_requests` (shared by the inproc and dds adapters)."""

    def __init__(self, ctx: Any, name: str, parameters: dict[str, Any] | None) -> None:
        super().__init__(name, parameters)
        self._ctx = ctx

    def create_publisher(self, msg_type, topic, qos=QoS()):
        return self._ctx._publisher(msg_type, topic, qos)

    def create_subscription(self, msg_type, topic, callback, qos=QoS()):
        return self._ctx._subscription(msg_type, topic, callback, qos)

    def create_timer(self, period_s, callback):
        return self._ctx._timer(period_s, callback)

    def now(self) -> float:
        return self._ctx.now()

    def request_shutdown(self, reason: str = "") -> None:
        super().request_shutdown(reason)
        self._ctx.shutdown_requests.append((self.name, reason))


class Context(abc.ABC):
    """Creates node handles and runs their callbacks."""

    @abc.abstractmethod
    def create_node(self, name: str, parameters: dict[str, Any] | None = None) -> NodeHandle: ...

    @abc.abstractmethod
    def spin_once(self, timeout_s: float = 0.1) -> bool:
        """Run ready callbacks (waiting up to timeout_s); False if nothing ran."""

    def spin_until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Spin until predicate() is true or timeout_s of *this context's clock* passed."""
        start = self.now()
        while not predicate():
            if self.now() - start > timeout_s:
                return False
            self.spin_once()
        return True

    @abc.abstractmethod
    def now(self) -> float: ...

    def shutdown(self) -> None:
        pass

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def normalise_topic(topic: str) -> str:
    """'/estop' and 'estop' name the same ROS topic; we keep the leading slash."""
    if not topic:
        raise ValueError("empty topic name")
    return topic if topic.startswith("/") else "/" + topic
