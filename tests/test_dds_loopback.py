"""Loopback only and graph isolation over Cyclone DDS (issue: sim runs must not reach the network).

- every participant the project creates uses the project's configuration (only `lo`, unicast
  discovery to 127.0.0.1), whatever CYCLONEDDS_URI says -- read back from Cyclone's own trace;
- a second graph on the same domain and interface cannot move this graph's arm: command topics
  live in the launch's DDS partition.
"""

from __future__ import annotations

import os
import re
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from conftest import sim_domain
from helpers.waiting import spin_until

from being_h0_runtime.transport.dds_network import (
    LOOPBACK,
    SIM_DOMAINS,
    DdsNetwork,
    cyclone_config_xml,
    graph_partition,
)

pytest.importorskip("cyclonedds")
os.environ.setdefault("MUJOCO_GL", "egl")

FOREIGN_URI = ('<CycloneDDS><Domain Id="any"><General><Interfaces><NetworkInterface name="eth0"/></Interfaces>'
               '<AllowMulticast>true</AllowMulticast></General></Domain></CycloneDDS>')


def trace_summary(log: str) -> tuple[list[str], set[str]]:
    """(interfaces Cyclone selected, addresses it added as discovery peers) from one trace file."""
    selected = re.findall(r"selected interfaces: (.*)", log)
    names = [m.group(1) for line in selected for m in re.finditer(r"(\S+) \(index", line)]
    peers = set(re.findall(r"add_peer_address: add udp/([0-9.]+):", log))
    return names, peers


def test_loopback_configuration_is_unicast_on_lo_only() -> None:
    xml = cyclone_config_xml(LOOPBACK, trace_dir="")
    assert xml is not None
    assert '<NetworkInterface address="127.0.0.1"/>' in xml
    assert "<AllowMulticast>false</AllowMulticast>" in xml
    assert '<Peer address="127.0.0.1"/>' in xml
    named = cyclone_config_xml(DdsNetwork(interface="enp3s0", domain_id=42), trace_dir="")
    assert named is not None and 'name="enp3s0"' in named and "127.0.0.1" not in named
    assert cyclone_config_xml(DdsNetwork(interface="environment"), trace_dir="") is None
    assert graph_partition("ab12") == "being_h0.ab12"


def test_a_participant_ignores_a_foreign_cyclonedds_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's CYCLONEDDS_URI (here: eth0 + multicast) is not honoured unless the profile asks."""
    import multiprocessing as mp

    monkeypatch.setenv("CYCLONEDDS_URI", FOREIGN_URI)
    monkeypatch.setenv("BEING_H0_DDS_TRACE_DIR", str(tmp_path))
    proc = mp.get_context("spawn").Process(target=_open_context, args=(sim_domain(3),))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    logs = list(tmp_path.glob("cyclonedds.*.log"))
    assert len(logs) == 1
    names, peers = trace_summary(logs[0].read_text())
    assert names == ["lo"], names
    assert peers == {"127.0.0.1"}


def _open_context(domain: int) -> None:
    from being_h0_runtime.transport.dds import DdsContext

    DdsContext(domain_id=domain).shutdown()


def test_make_run_processes_select_only_loopback(tmp_path: Path) -> None:
    """`being-h0 run` (what `make run` runs): every process, console included, traces lo only."""
    import subprocess
    import sys

    trace = tmp_path / "trace"
    trace.mkdir()
    env = {**os.environ, "BEING_H0_DDS_TRACE_DIR": str(trace), "CYCLONEDDS_URI": FOREIGN_URI,
           "PYTHONUNBUFFERED": "1"}
    res = subprocess.run([sys.executable, "-m", "being_h0_runtime.cli", "run", "--profile", "sim", "--expert",
                          "--seed", "1", "--run-dir", str(tmp_path / "run"), "--time-limit", "2",
                          "--set", "virtual_rig.camera_rate_hz=2"],
                         capture_output=True, text=True, timeout=240, env=env)
    out = res.stdout + res.stderr
    assert "DDS: loopback only" in out, out
    m = re.search(r"domain (\d+), graph ([0-9a-f]{8})", out)
    assert m and int(m.group(1)) in SIM_DOMAINS, out
    assert "outcome:" in out, out  # the episode ran (a 2 s limit ends it either way)
    logs = sorted(trace.glob("cyclonedds.*.log"))
    assert len(logs) >= 7, f"expected 6 node processes + the console, got {len(logs)} traces"
    for log in logs:
        names, peers = trace_summary(log.read_text())
        assert names == ["lo"], f"{log.name}: selected {names}"
        assert peers == {"127.0.0.1"}, f"{log.name}: peers {peers}"


def test_a_second_graph_on_the_same_domain_cannot_move_the_arm(tmp_path: Path) -> None:
    from being_h0_runtime.launch import build_graph, close_graph, load_profile
    from being_h0_runtime.msgs.convert import chunk_from_array
    from being_h0_runtime.msgs import ActionChunk
    from being_h0_runtime.transport.api import COMMAND_QOS
    from being_h0_runtime.transport.dds import DdsContext

    domain = sim_domain(11)
    profile = load_profile("sim")
    rig_ctx = DdsContext(domain_id=domain, graph_id="aaaa0001")  # the virtual rig drives /clock on wall time
    arm_ctx = DdsContext(domain_id=domain, use_sim_time=True, graph_id="aaaa0001")
    intruder = DdsContext(domain_id=domain, use_sim_time=True, graph_id="bbbb0002")
    friend = DdsContext(domain_id=domain, use_sim_time=True, graph_id="aaaa0001")
    contexts = [rig_ctx, arm_ctx, intruder, friend]
    rig = build_graph(profile, rig_ctx, tmp_path, {"virtual_rig": {"camera_rate_hz": 0}}, only=["virtual_rig"])
    arm_graph = build_graph(profile, arm_ctx, tmp_path, {"arm": {"executor": {"name": "async"}}}, only=["arm"])
    arm = arm_graph["arm"]
    bad_pub = intruder.create_node("intruder").create_publisher(ActionChunk, "/action_chunk", COMMAND_QOS)
    good_pub = friend.create_node("planner").create_publisher(ActionChunk, "/action_chunk", COMMAND_QOS)

    spin = partial(spin_until, contexts)

    try:
        assert spin(30, lambda: arm.driver_ready and arm_ctx.now() > 0), "arm never saw the virtual rig"
        q0 = np.array(arm.read_state()[0])
        target = np.tile(q0 + np.array([0.3, 0, 0, 0, 0, 0, 0]), (16, 1))

        def chunk(ctx: DdsContext) -> ActionChunk:
            return chunk_from_array(target, list(arm.joint_names), 0.05, ctx.now(), 0)

        end = time.monotonic() + 3.0
        while time.monotonic() < end:  # the intruder keeps sending for 3 s
            bad_pub.publish(chunk(intruder))
            spin(0.1)
        assert arm.chunks_received == 0, "a chunk from another graph reached the arm"
        assert np.allclose(arm.read_state()[0], q0, atol=1e-3), "the arm moved"
        # the same chunk from a participant of the arm's own graph is accepted
        good_pub.publish(chunk(friend))
        assert spin(10, lambda: arm.chunks_received > 0), "a chunk from the arm's own graph was not received"
    finally:
        close_graph(arm_graph)
        close_graph(rig)
        for c in contexts:
            c.shutdown()


def test_sim_and_rig_profiles_can_never_share_a_domain(tmp_path: Path) -> None:
    from being_h0_runtime.config import ConfigError
    from being_h0_runtime.launch import PROFILE_DIR, load_profile
    from being_h0_runtime.transport.dds_network import RIG_DOMAINS

    rig = load_profile("rig")
    assert rig.dds.domain_id in RIG_DOMAINS and rig.dds.interface
    sim = load_profile("sim")
    assert sim.dds.loopback and sim.dds.domain_id is None
    assert sim.launch_domain() in SIM_DOMAINS
    with pytest.raises(ConfigError, match="102..231"):
        sim.launch_domain(42)  # --domain-id of a rig on a sim profile
    with pytest.raises(ConfigError, match="0..101"):
        rig.launch_domain(150)
    text = (PROFILE_DIR / "sim.yaml").read_text()
    bad = tmp_path / "sim_on_rig_domain.yaml"
    bad.write_text(text + "\ndds: {domain_id: 42}\n")
    with pytest.raises(ConfigError, match="virtual-rig profile uses domains 102..231"):
        load_profile(str(bad))
    real = tmp_path / "real_without_network.yaml"
    real.write_text((PROFILE_DIR / "rig.yaml").read_text().replace("  interface: lo\n", ""))
    with pytest.raises(ConfigError, match="names its DDS interface explicitly"):
        load_profile(str(real))
    typo = tmp_path / "typo.yaml"
    typo.write_text(text + "\ndds: {interfce: eth0}\n")
    with pytest.raises(ConfigError, match="interfce"):
        load_profile(str(typo))
