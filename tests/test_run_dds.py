"""`being-h0 run` over Cyclone DDS: one process per node, as `make run` does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    CLI_ENV,
    node_pids,
    sim_domain,
    spawn_cli,
    stop_process,
    wait_no_node_processes,
)

pytest.importorskip("cyclonedds")
pytestmark = pytest.mark.slow


def being_h0(*args: str, timeout: float = 540, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "being_h0_runtime.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=CLI_ENV, **kw)


def test_episode_over_dds_processes_succeeds(tmp_path: Path) -> None:
    res = being_h0("run", "--profile", "sim", "--expert", "--seed", "1", "--run-dir", str(tmp_path),
                   "--domain-id", str(sim_domain(0)), "--set", "virtual_rig.camera_rate_hz=5",
                   "--startup-timeout", "240")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "outcome: SUCCESS" in res.stdout
    assert "running" in res.stdout  # progress was printed
    for node in ("virtual_rig", "camera", "arm", "hand", "inference", "task"):
        assert (tmp_path / f"{node}.log").exists()


SIM_NODES = ("virtual_rig", "camera", "hand", "arm", "inference", "task")


def test_dead_node_brings_the_graph_down_to_a_hold_not_a_hang(tmp_path: Path) -> None:
    domain = sim_domain(31)
    proc, out = spawn_cli("run", "--profile", "sim", "--expert", "--seed", "2", "--run-dir", str(tmp_path),
                          "--domain-id", str(domain), "--time-limit", "120", "--startup-timeout", "240")
    try:
        out.wait_for(r"\| running \|")  # the task is running: kill the inference node's process hard
        (pid,) = node_pids(tmp_path, "inference")
        os.kill(pid, signal.SIGKILL)
        code = out.wait_exit()  # must exit on its own: no hang
    finally:
        stop_process(proc)
    text = out.text()
    assert code == 3, text
    assert "node process died: inference (killed by SIGKILL)" in text and "latching e-stop" in text
    arm_log = (tmp_path / "arm.log").read_text()
    assert "Traceback" not in arm_log
    assert wait_no_node_processes(tmp_path) == []


def test_launch_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    domain = sim_domain(62)
    proc, out = spawn_cli("launch", "sim", "--run-dir", str(tmp_path), "--domain-id", str(domain), "--log-level", "INFO")
    try:
        for name in SIM_NODES:  # node logs stream to the launcher's stdout: every node is up, then Ctrl-C
            out.wait_for(rf"\[{name}\] INFO {name} \({name}\) up")
        proc.send_signal(signal.SIGINT)
        # exit of the launcher itself (not end of its output: a node's helper may hold the pipe a moment longer)
        code = out.wait_exit()
    finally:
        stop_process(proc)
    assert code == 0, out.text()
    assert "stopping the graph" in out.text()
    assert wait_no_node_processes(tmp_path) == [], "node processes left behind"


def test_nodes_exit_when_the_launcher_is_killed(tmp_path: Path) -> None:
    domain = sim_domain(93)
    proc, out = spawn_cli("launch", "sim", "--run-dir", str(tmp_path), "--domain-id", str(domain), "--log-level", "INFO")
    try:
        out.wait_for(r"\[task\] INFO task \(task\) up")
        proc.kill()  # SIGKILL: the launcher gets no chance to stop its children
        proc.wait(timeout=30)
        left = wait_no_node_processes(tmp_path, timeout=60)  # each node notices its parent is gone (PDEATHSIG)
    finally:
        for pid in node_pids(tmp_path):  # clean-up only: this graph's node processes, by pid
            os.kill(pid, signal.SIGKILL)
    assert left == [], "node processes outlived their launcher"
