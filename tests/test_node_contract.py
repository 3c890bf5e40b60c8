"""The node contract (nodes/base.py), checked on every node type of the registry.

Each node is built the way the rest of the suite builds it (a launch profile's parameters, or the
test doubles the node tests inject), then driven through its lifecycle: transitions out of order
raise NodeLifecycleError naming the node and its state, shutdown is idempotent, diagnostics carry
the lifecycle state and the node's own health, timers stop while inactive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_safety_bounded_buffers import HoldStillPolicy

from being_h0_runtime.launch import build_graph, close_graph, load_profile
from being_h0_runtime.msgs import DiagnosticArray, EStop, TaskStatus
from being_h0_runtime.msgs.convert import header
from being_h0_runtime.nodes.base import (
    NODE_TYPES,
    LifecycleState,
    NodeLifecycleError,
    RuntimeNode,
    build_node,
    node_class,
)
from being_h0_runtime.nodes.inference import InferenceNode, InferenceParams
from being_h0_runtime.nodes.recorder import RecorderNode, RecorderParams
from being_h0_runtime.nodes.teleop import TeleopNode, TeleopParams
from being_h0_runtime.transport.api import COMMAND_QOS, ESTOP_QOS, LATCHED_QOS
from being_h0_runtime.transport.inproc import InprocContext

Factory = Callable[[InprocContext, Path], RuntimeNode]


def _sim_params(node: str, run_dir: Path, **over: object) -> dict:
    return {**load_profile("sim").node_params(node, run_dir), **over}


def _hand(ctx: InprocContext, run_dir: Path) -> RuntimeNode:
    # the hand's serial driver needs the virtual rig's emulated Inspire on a pty, as in the sim profile
    rig = build_graph(load_profile("sim"), ctx, run_dir, {"virtual_rig": {"camera_rate_hz": 0, "hand_baudrate": None}},
                      only=["virtual_rig"])
    node = build_node("hand", ctx.create_node("hand"), _sim_params("hand", run_dir), "test")
    node.support = rig  # type: ignore[attr-defined]  # shut down after the node (see the fixture)
    return node


FACTORIES: dict[str, Factory] = {
    "virtual_rig": lambda ctx, d: build_node("virtual_rig", ctx.create_node("virtual_rig"),
                                             _sim_params("virtual_rig", d, camera_rate_hz=0, hand_port_link=""), "test"),
    "camera": lambda ctx, d: build_node("camera", ctx.create_node("camera"), {"backend": "sim"}, "test"),
    "arm": lambda ctx, d: build_node("arm", ctx.create_node("arm"), _sim_params("arm", d), "test"),
    "hand": _hand,
    "inference": lambda ctx, d: InferenceNode(ctx.create_node("inference"), InferenceParams(replan_period_s=0.05),
                                              policy=HoldStillPolicy()),
    "task": lambda ctx, d: build_node("task", ctx.create_node("task"), {"success_source": "operator"}, "test"),
    "recorder": lambda ctx, d: RecorderNode(ctx.create_node("recorder"), RecorderParams(output_dir=d / "rec",
                                                                                         min_free_bytes=0)),
    "teleop": lambda ctx, d: TeleopNode(ctx.create_node("teleop"), TeleopParams(port=0)),
}


def test_every_registered_node_type_is_covered_and_follows_the_contract() -> None:
    assert set(FACTORIES) == set(NODE_TYPES), "a new node type needs a factory here"
    for type_name in NODE_TYPES:
        assert issubclass(node_class(type_name), RuntimeNode), type_name


@pytest.fixture(params=sorted(FACTORIES))
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[InprocContext, RuntimeNode]]:
    ctx = InprocContext()
    node = FACTORIES[request.param](ctx, tmp_path)
    try:
        yield ctx, node
    finally:
        node.shutdown()
        close_graph(getattr(node, "support", {}))
        ctx.shutdown()


def _raises(call: Callable[[], None], node: RuntimeNode, state: str) -> None:
    with pytest.raises(NodeLifecycleError) as err:
        call()
    assert repr(node.handle.name) in str(err.value) and repr(state) in str(err.value)


def test_lifecycle_in_order_and_out_of_order(fresh: tuple[InprocContext, RuntimeNode]) -> None:
    ctx, node = fresh
    assert node.lifecycle_state is LifecycleState.UNCONFIGURED
    _raises(node.activate, node, "unconfigured")
    _raises(node.deactivate, node, "unconfigured")
    assert [d.name for d in node.diagnostics()] == ["lifecycle"]  # nothing acquired yet: no health to report

    node.configure()
    assert node.lifecycle_state is LifecycleState.INACTIVE
    _raises(node.configure, node, "inactive")
    _raises(node.deactivate, node, "inactive")

    node.activate()
    assert node.active and node._timers, "an active node runs on timers"
    _raises(node.activate, node, "active")
    _raises(node.configure, node, "active")
    ctx.run_for(0.2)

    node.deactivate()
    assert node.lifecycle_state is LifecycleState.INACTIVE and not node._timers
    node.activate()  # deactivate -> activate is a valid cycle
    ctx.run_for(0.1)

    node.shutdown()
    assert node.lifecycle_state is LifecycleState.FINALIZED
    node.shutdown()  # idempotent
    node.close()
    for call in (node.configure, node.activate, node.deactivate):
        _raises(call, node, "finalized")


def test_shutdown_from_unconfigured_and_inactive_releases(fresh: tuple[InprocContext, RuntimeNode]) -> None:
    _, node = fresh
    node.configure()
    node.shutdown()  # from inactive: no deactivate hook, resources released
    assert node.lifecycle_state is LifecycleState.FINALIZED
    node.shutdown()


def test_diagnostics_name_the_state_and_the_nodes_health(fresh: tuple[InprocContext, RuntimeNode]) -> None:
    ctx, node = fresh
    probe = ctx.create_node("probe")
    seen: list[DiagnosticArray] = []
    probe.create_subscription(DiagnosticArray, "/diagnostics", seen.append, COMMAND_QOS)
    node.bring_up()
    diags = node.diagnostics()
    assert diags[0].name == "lifecycle" and diags[0].message == "active"
    assert len(diags) >= 2, f"{type(node).__name__} reports no health of its own"
    node.publish_diagnostics(diags)
    ctx.deliver_pending()
    names = [s.name for arr in seen for s in arr.status]
    assert f"{node.handle.name}: lifecycle" in names


def test_inactive_nodes_skip_callbacks_but_actuators_keep_their_estop_latch(tmp_path: Path) -> None:
    ctx = InprocContext()
    arm = build_node("arm", ctx.create_node("arm"), _sim_params("arm", tmp_path), "test").bring_up()
    task = build_node("task", ctx.create_node("task"), {"success_source": "operator"}, "test").bring_up()
    probe = ctx.create_node("probe")
    estop = probe.create_publisher(EStop, "/estop", ESTOP_QOS)
    status = probe.create_publisher(TaskStatus, "/task/status", LATCHED_QOS)
    try:
        ctx.run_for(0.1)
        arm.deactivate()
        cycles = arm.cadence.report().cycles
        status.publish(TaskStatus(state=TaskStatus.HOMING, episode=1))
        estop.publish(EStop(header=header(ctx.now()), engaged=True, source="test", reason="while inactive"))
        ctx.run_for(0.2)
        assert arm.cadence.report().cycles == cycles, "no control cycle while inactive"
        assert arm.task_state == TaskStatus.IDLE, "ordinary inputs wait for activation"
        assert arm.estop.is_latched, "an e-stop heard while inactive still latches"
        arm.activate()
        ctx.run_for(0.1)
        assert arm.holding and arm.commands_written == 0
        assert arm.estop.is_latched and not arm.gate.decide(ctx.now()).run, "holds until an operator resets"
    finally:
        close_graph({"arm": arm, "task": task})
        ctx.shutdown()
