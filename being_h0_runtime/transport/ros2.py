"""rclpy adapter: the node API on a machine with ROS 2 installed (selected by ``create_context('auto')``).

Deliberately thin: rclpy does the transport, QoS, executor and clock; this
module only maps names and converts our dataclasses to/from the rclpy message
classes, found at run time by name (``sensor_msgs/msg/Image`` ->
``sensor_msgs.msg.Image``), field by field in `_fields` order.

Representation differences handled here:
- ``uint8[]`` / numeric ``T[]``: rclpy stores ``array.array``; we pass the raw
  buffer in one call (no per-element loop) and read it back with numpy;
- fixed ``T[N]``: rclpy stores numpy arrays; we pass numpy arrays;
- ``byte`` is a length-1 ``bytes`` and ``char`` a length-1 ``str`` in rclpy, ints for us.

rclpy is imported lazily, so this module imports (and says why it cannot run)
where ROS 2 is absent.
"""

from __future__ import annotations

import array
import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from ..msgs import Message, message_type
from ..msgs.base import PRIMITIVE_DTYPES
from .api import (
    Context,
    NodeHandle,
    Publisher,
    QoS,
    Subscription,
    Timer,
    normalise_topic,
)

__all__ = ["Ros2Context", "from_ros", "ros_class", "to_ros"]

_DEFAULT_QOS = QoS()  # reliable, depth 10, volatile (QoS is frozen, so one shared default is safe)

_ARRAY_CODES = {"int8": "b", "int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "int64": "q",
                "uint64": "Q", "float32": "f", "float64": "d", "uint8": "B", "byte": "B", "char": "B"}
_BYTES_BASES = ("uint8", "byte", "char")


def _rclpy():
    try:
        import rclpy
        import rclpy.executors
        import rclpy.parameter
        import rclpy.qos
    except ImportError as exc:
        raise RuntimeError(f"the ros2 transport needs rclpy (source a ROS 2 installation): {exc}") from None
    return rclpy


def ros_class(msg_type: type[Message]) -> type:
    """'sensor_msgs/msg/Image' -> the rclpy class sensor_msgs.msg.Image."""
    pkg, sub, name = msg_type._type.split("/")
    try:
        return getattr(importlib.import_module(f"{pkg}.{sub}"), name)
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(f"no ROS 2 message {msg_type._type} on this machine (build/source {pkg}): {exc}") from None


def to_ros(msg: Message) -> Any:
    out = ros_class(type(msg))()
    for name, ft in type(msg).field_types():
        v = getattr(msg, name)
        if ft.is_message:
            v = [to_ros(x) for x in v] if ft.is_array else to_ros(v)
        elif ft.is_array and ft.is_primitive:
            if ft.base == "bool":
                v = [bool(x) for x in v]
            elif ft.size is not None:
                v = np.frombuffer(bytes(v), np.uint8) if isinstance(v, (bytes, bytearray)) else \
                    np.asarray(v, dtype=PRIMITIVE_DTYPES[ft.base])
            else:
                raw = bytes(v) if ft.base in _BYTES_BASES else np.asarray(v, PRIMITIVE_DTYPES[ft.base]).tobytes()
                v = array.array(_ARRAY_CODES[ft.base], raw)
        elif ft.base == "byte":
            v = bytes([v])
        elif ft.base == "char":
            v = chr(v)
        elif ft.is_array and ft.is_string:
            v = list(v)
        setattr(out, name, v)
    return out


def from_ros(ros_msg: Any, msg_type: type[Message]) -> Message:
    kwargs = {}
    for name, ft in msg_type.field_types():
        v = getattr(ros_msg, name)
        if ft.is_message:
            sub = message_type(ft.base)
            v = [from_ros(x, sub) for x in v] if ft.is_array else from_ros(v, sub)
        elif ft.is_array and ft.is_primitive:
            if ft.base in _BYTES_BASES:
                v = v.tobytes() if hasattr(v, "tobytes") else bytes(v)
            else:
                v = np.array(v, dtype=PRIMITIVE_DTYPES[ft.base])
        elif ft.base == "byte":
            v = v[0] if isinstance(v, (bytes, bytearray)) else int(v)
        elif ft.base == "char":
            v = ord(v) if isinstance(v, str) else int(v)
        elif ft.is_array and ft.is_string:
            v = list(v)
        kwargs[name] = v
    return msg_type(**kwargs)


def _ros_qos(qos: QoS) -> Any:
    q = _rclpy().qos
    return q.QoSProfile(
        depth=qos.depth,
        history=q.HistoryPolicy.KEEP_LAST,
        reliability=q.ReliabilityPolicy.RELIABLE if qos.reliability == "reliable" else q.ReliabilityPolicy.BEST_EFFORT,
        durability=q.DurabilityPolicy.TRANSIENT_LOCAL if qos.durability == "transient_local"
        else q.DurabilityPolicy.VOLATILE,
    )


class _Ros2Publisher(Publisher):
    def __init__(self, node: Any, msg_type: type[Message], topic: str, qos: QoS) -> None:
        self.topic, self.msg_type = topic, msg_type
        self._pub = node.create_publisher(ros_class(msg_type), topic, _ros_qos(qos))

    def publish(self, msg: Message) -> None:
        if type(msg) is not self.msg_type:
            raise TypeError(f"{self.topic} carries {self.msg_type._type}, got {type(msg).__name__}")
        self._pub.publish(to_ros(msg))


class _Ros2Subscription(Subscription):
    def __init__(self, ctx: Ros2Context, node: Any, msg_type: type[Message], topic: str,
                 callback: Callable[[Any], None], qos: QoS) -> None:
        self.topic, self.msg_type, self._node = topic, msg_type, node

        def on_msg(ros_msg: Any) -> None:
            ctx._ran += 1
            callback(from_ros(ros_msg, msg_type))

        self._sub = node.create_subscription(ros_class(msg_type), topic, on_msg, _ros_qos(qos))

    def destroy(self) -> None:
        self._node.destroy_subscription(self._sub)


class _Ros2Timer(Timer):
    def __init__(self, ctx: Ros2Context, node: Any, period: float, callback: Callable[[], None]) -> None:
        if not period > 0:
            raise ValueError(f"timer period must be > 0, got {period}")
        self.period = period

        def on_timer() -> None:
            ctx._ran += 1
            callback()

        self._timer = node.create_timer(period, on_timer)

    def cancel(self) -> None:
        self._timer.cancel()


class Ros2Node(NodeHandle):
    def __init__(self, ctx: Ros2Context, name: str, parameters: dict[str, Any] | None) -> None:
        super().__init__(name, parameters)
        rclpy = _rclpy()
        self._ctx = ctx
        overrides = [rclpy.parameter.Parameter(k, value=v) for k, v in self.parameters.items()]
        overrides.append(rclpy.parameter.Parameter("use_sim_time", value=ctx.use_sim_time))
        self.ros_node = rclpy.create_node(name, context=ctx._context, parameter_overrides=overrides,
                                          automatically_declare_parameters_from_overrides=True)
        ctx._executor.add_node(self.ros_node)

    def create_publisher(self, msg_type, topic, qos=_DEFAULT_QOS):
        topic = self._ctx._check_type(topic, msg_type)
        return _Ros2Publisher(self.ros_node, msg_type, topic, qos)

    def create_subscription(self, msg_type, topic, callback, qos=_DEFAULT_QOS):
        topic = self._ctx._check_type(topic, msg_type)
        return _Ros2Subscription(self._ctx, self.ros_node, msg_type, topic, callback, qos)

    def create_timer(self, period_s, callback):
        return _Ros2Timer(self._ctx, self.ros_node, period_s, callback)

    def now(self) -> float:
        return self.ros_node.get_clock().now().nanoseconds * 1e-9

    def request_shutdown(self, reason: str = "") -> None:
        super().request_shutdown(reason)
        self._ctx.shutdown_requests.append((self.name, reason))


class Ros2Context(Context):
    """An rclpy context + SingleThreadedExecutor (callbacks never concurrent)."""

    def __init__(self, domain_id: int | None = None, use_sim_time: bool = False) -> None:
        rclpy = _rclpy()
        self.use_sim_time = use_sim_time
        self._context = rclpy.Context()
        rclpy.init(context=self._context, domain_id=domain_id)
        self._executor = rclpy.executors.SingleThreadedExecutor(context=self._context)
        self._types: dict[str, type[Message]] = {}
        self._ran = 0
        self.nodes: list[Ros2Node] = []
        self.shutdown_requests: list[tuple[str, str]] = []
        self._clock_node = Ros2Node(self, "being_h0_context_clock", None)

    def _check_type(self, topic: str, msg_type: type[Message]) -> str:
        topic = normalise_topic(topic)
        known = self._types.setdefault(topic, msg_type)
        if known is not msg_type:
            raise RuntimeError(f"topic {topic} already carries {known._type}, not {msg_type._type}")
        return topic

    def create_node(self, name: str, parameters: dict[str, Any] | None = None) -> Ros2Node:
        node = Ros2Node(self, name, parameters)
        self.nodes.append(node)
        return node

    def spin_once(self, timeout_s: float = 0.1) -> bool:
        before = self._ran
        self._executor.spin_once(timeout_sec=timeout_s)
        return self._ran != before

    def now(self) -> float:
        return self._clock_node.now()

    def shutdown(self) -> None:
        rclpy = _rclpy()
        if not self._context.ok():
            return
        self._executor.shutdown()
        for node in [*self.nodes, self._clock_node]:
            node.ros_node.destroy_node()
        rclpy.shutdown(context=self._context)
