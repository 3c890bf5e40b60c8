"""`being-h0 run` over Cyclone DDS: one process per node, as `make run` does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import sim_domain

pytest.importorskip("cyclonedds")
pytestmark = pytest.mark.slow

ENV = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONUNBUFFERED": "1"}


def being_h0(*args: str, timeout: float = 240, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "being_h0_runtime.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=ENV, **kw)


def test_episode_over_dds_processes_succeeds(tmp_path: Path) -> None:
    res = being_h0("run", "--profile", "sim", "--expert", "--seed", "1", "--run-dir", str(tmp_path),
                   "--domain-id", str(sim_domain(0)), "--set", "virtual_rig.camera_rate_hz=5")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "outcome: SUCCESS" in res.stdout
    assert "running" in res.stdout  # progress was printed
    for node in ("virtual_rig", "camera", "arm", "hand", "inference", "task"):
        assert (tmp_path / f"{node}.log").exists()


def test_dead_node_brings_the_graph_down_to_a_hold_not_a_hang(tmp_path: Path) -> None:
    domain = str(sim_domain(31))
    proc = subprocess.Popen([sys.executable, "-m", "being_h0_runtime.cli", "run", "--profile", "sim", "--expert", "--seed", "2",
                             "--run-dir", str(tmp_path), "--domain-id", domain, "--time-limit", "120"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    try:
        # wait until the task is running, then kill the inference node's process hard
        deadline = time.monotonic() + 120
        lines = []
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "running" in line:
                break
        else:
            pytest.fail("episode never started:\n" + "".join(lines))
        out = subprocess.run(["pgrep", "-f", f"node_main .*--node inference .*--domain-id {domain}"],
                             capture_output=True, text=True)
        pids = [int(p) for p in out.stdout.split()]
        assert pids, "inference node process not found"
        os.kill(pids[0], signal.SIGKILL)
        rest, _ = proc.communicate(timeout=60)  # must exit on its own: no hang
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(lines) + rest
    assert proc.returncode == 3, text
    assert "node process died: inference" in text and "latching e-stop" in text
    arm_log = (tmp_path / "arm.log").read_text()
    assert "Traceback" not in arm_log


def test_launch_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    domain = str(sim_domain(62))
    proc = subprocess.Popen([sys.executable, "-m", "being_h0_runtime.cli", "launch", "sim", "--run-dir", str(tmp_path),
                             "--domain-id", domain, "--log-level", "INFO"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=ENV)
    seen = []
    try:
        deadline = time.monotonic() + 90
        assert proc.stdout is not None
        while time.monotonic() < deadline:  # node logs stream to the launcher's stdout
            line = proc.stdout.readline()
            seen.append(line)
            if "task (task) up" in line or not line:
                break
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        out = "".join(seen) + out
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "stopping the graph" in out
    left = subprocess.run(["pgrep", "-f", f"node_main .*--domain-id {domain}"], capture_output=True, text=True)
    assert left.stdout.strip() == "", "node processes left behind"


def test_nodes_exit_when_the_launcher_is_killed(tmp_path: Path) -> None:
    domain = str(sim_domain(93))
    proc = subprocess.Popen([sys.executable, "-m", "being_h0_runtime.cli", "launch", "sim", "--run-dir", str(tmp_path),
                             "--domain-id", domain, "--log-level", "INFO"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 90
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "task (task) up" in line or not line:
                break
        proc.kill()  # SIGKILL: the launcher gets no chance to stop its children
        proc.wait(timeout=10)
        pattern = f"node_main .*--domain-id {domain}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode != 0:
                break
            time.sleep(0.2)
        left = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
    finally:
        subprocess.run(["pkill", "-f", f"node_main .*--domain-id {domain}"])
    assert left == [], "node processes outlived their launcher"
