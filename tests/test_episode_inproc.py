"""Whole-graph episodes on the virtual rig under the deterministic in-process executor."""

from __future__ import annotations

import os


os.environ.setdefault("MUJOCO_GL", "egl")

from being_h0_runtime.operator import run_episode_inproc  # noqa: E402

from being_h0_runtime.policy.expert import with_expert  # noqa: E402

# the scripted expert (the profile's default is the shipped engine) needs no camera; keep the test fast
FAST = with_expert({"virtual_rig": {"camera_rate_hz": 0, "hand_baudrate": None}})


def test_pick_and_place_episode_succeeds_through_all_nodes() -> None:
    out = run_episode_inproc("sim", seed=1, overrides=FAST)
    assert out.success, out
    states = [s for _, s in out.history]
    assert states[-3:] == ["homing", "running", "succeeded"]
    assert 3.0 < out.sim_seconds < 40.0


def test_same_seed_same_outcome_and_timing() -> None:
    a = run_episode_inproc("sim", seed=4, overrides=FAST)
    b = run_episode_inproc("sim", seed=4, overrides=FAST)
    assert (a.state, a.history) == (b.state, b.history)
    assert a.sim_seconds == b.sim_seconds


def test_episode_times_out_without_a_policy_making_progress() -> None:
    # a policy that never gets privileged state cannot act: the task must time out, not hang
    over = {**FAST, "inference": {**FAST["inference"], "only_while_running": True, "replan_period_s": 100.0}}
    out = run_episode_inproc("sim", seed=0, overrides=over, time_limit_s=3.0)
    assert out.state == "timeout" and not out.success



def test_status_elapsed_stops_when_the_episode_ends() -> None:
    from being_h0_runtime.msgs import JointState, TaskCommand, TaskStatus
    from being_h0_runtime.msgs.convert import joint_state
    from being_h0_runtime.nodes.base import build_node
    from being_h0_runtime.rig import ARM_JOINT_NAMES, READY_Q
    from being_h0_runtime.transport.api import COMMAND_QOS, LATCHED_QOS, QoS
    from being_h0_runtime.transport.inproc import InprocContext

    ctx = InprocContext()
    build_node("task", ctx.create_node("task"), {"success_source": "operator"}, "test").bring_up()
    probe = ctx.create_node("probe")
    seen: list[TaskStatus] = []
    probe.create_subscription(TaskStatus, "/task/status", seen.append, LATCHED_QOS)
    cmd = probe.create_publisher(TaskCommand, "/task/command", COMMAND_QOS)
    js = probe.create_publisher(JointState, "/joint_states", QoS("best_effort", 5))
    probe.create_timer(0.05, lambda: js.publish(joint_state(ARM_JOINT_NAMES, READY_Q, stamp=ctx.now())))
    cmd.publish(TaskCommand(command="start", episode=1))
    ctx.run_for(1.0)
    assert seen[-1].state == "running"
    cmd.publish(TaskCommand(command="mark_success", operator="op"))
    ctx.run_for(3.0)
    done = [st.elapsed for st in seen if st.state == "succeeded"]
    assert len(done) >= 5 and max(done) == min(done)
