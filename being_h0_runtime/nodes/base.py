"""The node contract every node follows, the node registry and parameter validation.

A node is a `RuntimeNode` subclass with a nested pydantic `Params` model and a constructor
`(handle: NodeHandle, params: Params | dict, **injected)` that only stores what it is given: it
touches no hardware and no topic. Its life is the ROS 2 managed-node cycle, enforced:

    unconfigured --configure()--> inactive --activate()--> active
                                  inactive <--deactivate()-- active
    any state --shutdown()--> finalized          (idempotent; also `close()`)

* `on_configure`: acquire: drivers (configured), publishers, subscriptions, helper threads.
* `on_activate`: start: driver activation, timers, first publications.
* `on_deactivate`: stop: actuators hold; the base cancels every timer made with `create_timer`.
* `on_shutdown`: release everything, also after a configure that failed half-way.

Calling a transition from the wrong state raises `NodeLifecycleError` naming the node and its
state (`lifecycle_state`). While a node is not active its timers are cancelled and its subscription callbacks do not
run, except those subscribed with ``while_inactive=True`` (safety inputs such as /estop, so a
latch stays current). `bring_up()` is configure + activate: what the graph builders
(`launch.build_graph`, `node_main`) and every other caller do before spinning.

Health is the same for every node: `diagnostics()` = the lifecycle state + the node's `health()`;
`publish_diagnostics` puts a list on /diagnostics as "<node>: <name>" entries.

`build_node` validates a parameter dict (from a launch profile) and constructs the node
(unconfigured); the same call is used by the in-process graph, the per-process launcher and the
ROS 2 launch file.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel

from ..config import validate_model
from ..drivers.base import Diagnostic
from ..msgs import DiagnosticArray, DiagnosticStatus, KeyValue, Message
from ..msgs.convert import header
from ..transport.api import NodeHandle, Publisher, QoS, Subscription, Timer

#: node type name (as written in launch profiles) -> "module:Class"
NODE_TYPES: dict[str, str] = {
    "virtual_rig": "being_h0_runtime.nodes.virtual_rig:VirtualRigNode",
    "camera": "being_h0_runtime.nodes.camera:CameraNode",
    "arm": "being_h0_runtime.nodes.arm:ArmNode",
    "hand": "being_h0_runtime.nodes.hand:HandNode",
    "inference": "being_h0_runtime.nodes.inference:InferenceNode",
    "task": "being_h0_runtime.nodes.task:TaskNode",
    "recorder": "being_h0_runtime.nodes.recorder:RecorderNode",
    "teleop": "being_h0_runtime.nodes.teleop:TeleopNode",
}

#: depth of every node's /diagnostics publisher
DIAGNOSTICS_QOS = QoS(depth=50)
_DEFAULT_QOS = QoS()

M = TypeVar("M", bound=Message)


class LifecycleState(str, enum.Enum):
    UNCONFIGURED = "unconfigured"
    INACTIVE = "inactive"
    ACTIVE = "active"
    FINALIZED = "finalized"


class NodeLifecycleError(RuntimeError):
    """A lifecycle transition called in a state it does not start from."""


class RuntimeNode:
    """Base class of every node: params, the enforced lifecycle, timers, gated subscriptions, diagnostics."""

    Params: ClassVar[type[BaseModel]]

    def __init__(self, handle: NodeHandle, params: BaseModel | Mapping[str, Any]) -> None:
        self.handle = handle
        self.params = self._validated_params(params)
        self.log = handle.logger
        self.lifecycle_state = LifecycleState.UNCONFIGURED
        self._timers: list[Timer] = []
        self._diag_pub: Publisher[DiagnosticArray] | None = None

    def _validated_params(self, params: BaseModel | Mapping[str, Any]) -> Any:
        if isinstance(params, self.Params):
            return params
        if isinstance(params, Mapping):
            return validate_model(self.Params, dict(params), f"node {self.handle.name!r} ({type(self).__name__})")
        raise TypeError(f"node {self.handle.name!r}: params must be a {self.Params.__name__} or a dict, "
                        f"got {type(params).__name__}")

    # -- the lifecycle ---------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.lifecycle_state is LifecycleState.ACTIVE

    def configure(self) -> None:
        """unconfigured -> inactive: acquire drivers, publishers and subscriptions."""
        self._require("configure", LifecycleState.UNCONFIGURED)
        if self._diag_pub is None:
            self._diag_pub = self.handle.create_publisher(DiagnosticArray, "/diagnostics", DIAGNOSTICS_QOS)
        self.on_configure()
        self.lifecycle_state = LifecycleState.INACTIVE

    def activate(self) -> None:
        """inactive -> active: start timers (and motion, for actuators)."""
        self._require("activate", LifecycleState.INACTIVE)
        self.on_activate()
        self.lifecycle_state = LifecycleState.ACTIVE

    def deactivate(self) -> None:
        """active -> inactive: timers stop, subscription callbacks pause, actuators hold."""
        self._require("deactivate", LifecycleState.ACTIVE)
        self.lifecycle_state = LifecycleState.INACTIVE
        self._cancel_timers()
        self.on_deactivate()

    def shutdown(self) -> None:
        """Any state -> finalized: deactivate if active, then release everything. A second call does nothing."""
        if self.lifecycle_state is LifecycleState.FINALIZED:
            return
        was_active = self.active
        self.lifecycle_state = LifecycleState.FINALIZED
        self._cancel_timers()
        try:
            if was_active:
                self.on_deactivate()
        finally:
            self.on_shutdown()

    def close(self) -> None:
        """Same as `shutdown()` (the name the graph helpers and tests use)."""
        self.shutdown()

    def bring_up(self) -> Self:
        """configure() then activate(); returns the node, so `node = SomeNode(handle, params).bring_up()`."""
        self.configure()
        self.activate()
        return self

    def _require(self, transition: str, state: LifecycleState) -> None:
        if self.lifecycle_state is not state:
            raise NodeLifecycleError(f"node {self.handle.name!r} ({type(self).__name__}): {transition}() needs "
                                     f"state {state.value!r}, but it is {self.lifecycle_state.value!r}")

    def _cancel_timers(self) -> None:
        timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()

    # -- hooks (override what applies) ------------------------------------------------
    def on_configure(self) -> None:
        """Acquire drivers, publishers and subscriptions."""

    def on_activate(self) -> None:
        """Start timers (`create_timer`) and publish initial state."""

    def on_deactivate(self) -> None:
        """Stop producing output (actuators hold); timers are already cancelled."""

    def on_shutdown(self) -> None:
        """Release hardware, threads and files; may follow a configure that failed half-way."""

    # -- transport helpers ---------------------------------------------------------
    def create_timer(self, period_s: float, callback: Callable[[], None]) -> Timer:
        """A timer that deactivate() and shutdown() cancel."""
        timer = self.handle.create_timer(period_s, callback)
        self._timers.append(timer)
        return timer

    def subscribe(self, msg_type: type[M], topic: str, callback: Callable[[M], None], qos: QoS = _DEFAULT_QOS,
                  while_inactive: bool = False) -> Subscription[M]:
        """A subscription whose callback runs only while the node is active (or, with `while_inactive`,
        in every state before shutdown: for safety inputs that must keep a latch current)."""
        if while_inactive:
            def deliver(msg: M) -> None:
                if self.lifecycle_state is not LifecycleState.FINALIZED:
                    callback(msg)
        else:
            def deliver(msg: M) -> None:
                if self.lifecycle_state is LifecycleState.ACTIVE:
                    callback(msg)
        return self.handle.create_subscription(msg_type, topic, deliver, qos)

    # -- health ------------------------------------------------------------------------
    def health(self) -> list[Diagnostic]:
        """The node's own status lines (called only once configured)."""
        return []

    def diagnostics(self) -> list[Diagnostic]:
        """Every node's health: its lifecycle state, then `health()` once configured."""
        configured = self.lifecycle_state in (LifecycleState.INACTIVE, LifecycleState.ACTIVE)
        out = [Diagnostic(Diagnostic.OK if configured else Diagnostic.STALE, "lifecycle", self.lifecycle_state.value,
                          {"node_type": type(self).__name__})]
        if configured:
            out += self.health()
        return out

    def publish_diagnostics(self, diags: list[Diagnostic], hardware_id: str | None = None) -> None:
        """Publish `diags` on /diagnostics as "<node>: <name>" entries (`hardware_id` default: the node name)."""
        if not diags or self._diag_pub is None:
            return
        status = [
            DiagnosticStatus(
                level=d.level,
                name=f"{self.handle.name}: {d.name}",
                message=d.message,
                hardware_id=self.handle.name if hardware_id is None else hardware_id,
                values=[KeyValue(k, str(v)) for k, v in d.values.items()],
            )
            for d in diags
        ]
        self._diag_pub.publish(DiagnosticArray(header=header(self.handle.now()), status=status))


def node_class(type_name: str) -> type[RuntimeNode]:
    try:
        target = NODE_TYPES[type_name]
    except KeyError:
        raise ValueError(f"unknown node type {type_name!r}; known: {sorted(NODE_TYPES)}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def validate_params(type_name: str, params: dict[str, Any] | None, source: str, base_dir: str | None = None,
                    prefix: str = "") -> BaseModel:
    """A node's parameters, validated by its Params model; relative paths resolve against `base_dir`
    (the profile file's folder), errors name `source` and the key path under `prefix`."""
    context = {"base_dir": base_dir} if base_dir is not None else None
    return validate_model(node_class(type_name).Params, params or {}, source, context=context, prefix=prefix)


def build_node(type_name: str, handle: NodeHandle, params: dict[str, Any] | None, source: str,
               base_dir: str | None = None) -> RuntimeNode:
    """The node of `type_name` with validated `params`, unconfigured (call `bring_up()` to run it)."""
    validated = validate_params(type_name, params, source, base_dir)
    return node_class(type_name)(handle, validated)
