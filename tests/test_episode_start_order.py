"""An episode starts on its own scene and with every node up: homing waits for the rig's reset, `run` for ready marks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from being_h0_runtime.launcher import Child, GraphLauncher
from being_h0_runtime.msgs import JointState, SimState, TaskCommand, TaskStatus
from being_h0_runtime.msgs.convert import header
from being_h0_runtime.node_main import mark_ready, ready_mark
from being_h0_runtime.nodes.base import build_node
from being_h0_runtime.rig import ARM_JOINT_NAMES, READY_Q
from being_h0_runtime.transport.api import COMMAND_QOS, LATCHED_QOS, QoS
from being_h0_runtime.transport.inproc import InprocContext


def test_homing_ends_only_after_the_rig_shows_this_episodes_scene() -> None:
    ctx = InprocContext()
    task = build_node("task", ctx.create_node("task"), {"success_source": "sim"}, "test").bring_up()
    probe = ctx.create_node("probe")
    cmd = probe.create_publisher(TaskCommand, "/task/command", COMMAND_QOS)
    joints = probe.create_publisher(JointState, "/joint_states", QoS("best_effort", 5))
    sim = probe.create_publisher(SimState, "/sim/state", QoS("best_effort", 2))
    states: list[str] = []
    probe.create_subscription(TaskStatus, "/task/status", lambda m: states.append(m.state), LATCHED_QOS)

    def world(seed: int) -> None:
        joints.publish(JointState(header=header(ctx.now()), name=list(ARM_JOINT_NAMES), position=list(READY_Q),
                                  velocity=[0.0] * 7, effort=[0.0] * 7))
        sim.publish(SimState(header=header(ctx.now()), names=[], poses=[], success=False, task_id="t", seed=seed))

    cmd.publish(TaskCommand(command=TaskCommand.START, episode=1, seed=7, task_id="pick_place_toy"))
    for _ in range(20):  # arm at home, but the scene is still the start-up one (-1)
        world(-1)
        ctx.run_for(0.05)
    assert task.state == TaskStatus.HOMING
    world(7)  # the rig reset the scene for seed 7
    ctx.run_for(0.1)
    assert task.state == TaskStatus.RUNNING
    task.shutdown()
    ctx.shutdown()


def test_operator_judged_tasks_do_not_wait_for_a_simulator() -> None:
    ctx = InprocContext()
    task = build_node("task", ctx.create_node("task"), {"success_source": "operator"}, "test").bring_up()
    probe = ctx.create_node("probe")
    probe.create_publisher(TaskCommand, "/task/command", COMMAND_QOS).publish(
        TaskCommand(command=TaskCommand.START, episode=1, seed=7, task_id="pick_place_toy"))
    joints = probe.create_publisher(JointState, "/joint_states", QoS("best_effort", 5))
    for _ in range(5):
        joints.publish(JointState(header=header(ctx.now()), name=list(ARM_JOINT_NAMES), position=list(np.asarray(READY_Q)),
                                  velocity=[0.0] * 7, effort=[0.0] * 7))
        ctx.run_for(0.05)
    assert task.state == TaskStatus.RUNNING
    task.shutdown()
    ctx.shutdown()


def test_launcher_is_ready_only_when_every_child_marked_its_current_pid(tmp_path: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) for _ in range(2)]
    try:
        launcher = object.__new__(GraphLauncher)  # only the run folder and the children matter here
        launcher.run_dir = tmp_path
        launcher.children = [Child(f"n{i}", p, tmp_path / f"n{i}.log", 0) for i, p in enumerate(procs)]
        assert not launcher.all_ready()
        mark_ready(tmp_path, "n0", procs[0].pid)
        assert not launcher.all_ready()
        ready_mark(tmp_path, "n1").write_text("999999")  # a stale mark from an earlier process of that node
        assert not launcher.all_ready()
        mark_ready(tmp_path, "n1", procs[1].pid)
        assert launcher.all_ready()
        assert not list(tmp_path.glob(".*.tmp"))  # written then renamed
    finally:
        for p in procs:
            p.kill()
            p.wait()
