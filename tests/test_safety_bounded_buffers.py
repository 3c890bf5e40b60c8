"""Long-running nodes keep bounded state: many messages in, sizes stay put.

A node on a rig runs for days; anything it appends to per message, per inference or per
safety event must be a ring (deque with maxlen) or keyed by a fixed set of names.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from being_h0_runtime.rig import ARM_JOINT_NAMES, HAND_DOF_NAMES
from being_h0_runtime.msgs import ActionChunk, JointState, TaskStatus
from being_h0_runtime.msgs.convert import chunk_from_array, header, joint_state
from being_h0_runtime.nodes.actuator import EVENT_LOG_LEN
from being_h0_runtime.nodes.inference import LATENCY_WINDOW, InferenceNode, InferenceParams
from being_h0_runtime.policy.base import Policy
from being_h0_runtime.policy.spec import Observation, default_action_spec
from being_h0_runtime.safety.estop import MAX_EVENTS, EStopLatch
from being_h0_runtime.transport.api import COMMAND_QOS, LATCHED_QOS, QoS
from being_h0_runtime.transport.inproc import InprocContext
from motion_graph import NAMES, MotionGraph, pose


class HoldStillPolicy(Policy):
    """Answers every observation with 'stay where you are' (cheap, so thousands of inferences run fast)."""

    engine_id = "hold-still"
    needs_image = False

    def __init__(self) -> None:
        self.spec = default_action_spec()

    def infer(self, obs: Observation) -> np.ndarray:
        return np.tile(obs.proprio.astype(np.float32), (self.spec.chunk_len, 1))


def test_inference_node_keeps_a_latency_window_and_only_the_joints_it_reads() -> None:
    ctx = InprocContext()
    node = InferenceNode(ctx.create_node("inference"), InferenceParams(replan_period_s=0.01, max_proprio_age_s=1.0),
                         policy=HoldStillPolicy()).bring_up()
    probe = ctx.create_node("probe")
    status = probe.create_publisher(TaskStatus, "/task/status", LATCHED_QOS)
    js = probe.create_publisher(JointState, "/joint_states", QoS("best_effort", 10))
    chunks: list[int] = []
    probe.create_subscription(ActionChunk, "/action_chunk", lambda m: chunks.append(m.sequence), COMMAND_QOS)
    status.publish(TaskStatus(state=TaskStatus.RUNNING, episode=1))
    names = list(ARM_JOINT_NAMES) + list(HAND_DOF_NAMES)
    k = [0]

    def states() -> None:
        k[0] += 1
        js.publish(joint_state(names, np.zeros(len(names)), stamp=ctx.now()))
        # a misbehaving publisher: a new joint name every message must not grow the node's state
        js.publish(joint_state([f"stray_joint_{k[0]}"], [0.0], stamp=ctx.now()))

    probe.create_timer(0.01, states)
    ctx.run_for(3 * LATENCY_WINDOW * 0.01)  # three windows' worth of inferences
    assert len(chunks) > 2 * LATENCY_WINDOW
    assert len(node.latencies) == LATENCY_WINDOW
    assert set(node.joints) == set(names)


def test_actuator_safety_event_log_is_a_ring() -> None:
    g = MotionGraph()
    g.chunks_on = False
    try:
        n = EVENT_LOG_LEN + 300
        bad = chunk_from_array(np.tile(pose(1), (16, 1)), NAMES, 0.1, 0.0, 0.0, "bad", 1)
        bad.step_dt = 0.0
        sent = [0]

        def burst() -> None:
            sent[0] += 1
            bad.header = header(g.ctx.now())
            g.chunk_pub.publish(bad)

        g.probe.create_timer(0.001, burst)
        g.run_until(n * 0.001 + 0.0005)
        for node in (g.arm, g.hand):
            assert node.chunks_dropped["step_dt"] == sent[0] >= n
            assert len(node.safety_events) == EVENT_LOG_LEN
            assert isinstance(node.hold_events, deque) and node.hold_events.maxlen == EVENT_LOG_LEN
    finally:
        g.close()


def test_estop_event_log_is_a_ring() -> None:
    latch = EStopLatch(clock=lambda: 0.0)
    for k in range(MAX_EVENTS + 10):
        latch.trigger("storm", str(k))
    assert len(latch.events) == MAX_EVENTS and latch.trigger_count == MAX_EVENTS + 10
    assert latch.events[-1].reason == str(MAX_EVENTS + 9)


def test_no_container_in_the_motion_graph_grows_without_bound() -> None:
    """Run stop/reset cycles, snapshot every list/dict/set/deque the motion nodes hold, run as many
    cycles again, snapshot again: whatever still grew must be a ring with a maxlen (counters keyed
    by a fixed set of reasons fill up in the first round and stay)."""
    g = MotionGraph()

    def cycles(n: int) -> None:
        holds = len(g.arm.hold_events)
        for _ in range(n):  # stop, reset, resume on fresh chunks
            t = g.ctx.now()
            g.at(t + 0.05, g.console.estop)
            g.at(t + 0.1, g.console.reset_estop)
            g.run_until(t + 0.3)
        assert len(g.arm.hold_events) >= min(holds + n, EVENT_LOG_LEN), "the arm did not stop and resume each time"

    try:
        g.run_until(1.0)
        cycles(20)

        def sizes() -> dict[str, tuple[int, object]]:
            out = {}
            for name, node in g.nodes.items():
                for obj_name, obj in (("", node), (".estop", getattr(node, "estop", None)),
                                      (".gate", getattr(node, "gate", None)), (".driver", getattr(node, "driver", None))):
                    for attr, value in vars(obj or object()).items() if obj is not None else ():
                        if isinstance(value, (list, dict, set, deque)):
                            out[f"{name}{obj_name}.{attr}"] = (len(value), value)
            return out

        before = sizes()
        cycles(20)
        after = sizes()
        grew = {k: (before[k][0], n) for k, (n, v) in after.items()
                if k in before and n > before[k][0] and not (isinstance(v, deque) and v.maxlen is not None)}
        assert grew == {}, f"unbounded containers grew: {grew}"
    finally:
        g.close()
