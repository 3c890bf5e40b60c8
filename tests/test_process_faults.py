"""Process faults in the DDS graph: SIGKILL node processes one at a time (issue 16, item 7).

* every death is reported with the node's name and how it died, and the e-stop is latched first;
* the node's `restart` policy decides: `on-failure` starts it again, `never` (default) stops the graph;
* the arm and hand go from commanding to holding between two of their own control cycles, and command
  nothing after that;
* a recorder killed mid-episode loses under a second and its episode opens (the launcher recovers it);
* no node process is left behind.

Two graphs in all (one `launch`, one `run`): every kill reuses the graph.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
import yaml
from conftest import (
    GRAPH_TIMEOUT_S,
    node_pids,
    sim_domain,
    spawn_cli,
    stop_process,
    wait_no_node_processes,
)

from being_h0_runtime.launch import PROFILE_DIR

pytest.importorskip("cyclonedds")
pytestmark = pytest.mark.slow

#: node name -> node type, in the sim profile's start order
SIM_NODES = {"virtual_rig": "virtual_rig", "camera": "camera", "hand": "hand", "arm": "arm",
             "inference": "inference", "task": "task"}
ARM_CYCLE_S, HAND_CYCLE_S = 0.01, 0.02  # launch/sim.yaml: arm 100 Hz, hand 50 Hz


def fault_profile(tmp_path: Path, restart: dict[str, str], recorder: bool = False) -> Path:
    """launch/sim.yaml with restart policies (and a recorder node writing to `recordings/` beside the file)."""
    data = yaml.safe_load((PROFILE_DIR / "sim.yaml").read_text())
    for name, policy in restart.items():
        data["nodes"][name]["restart"] = policy
    if recorder:
        data["nodes"]["recorder"] = {
            "type": "recorder", "restart": "on-failure",
            # relative output_dir: resolves against this profile's folder, not the test's working directory
            "params": {"output_dir": "recordings", "flush_interval_s": 0.5, "min_free_bytes": 0,
                       "topics": ["/joint_states", "/task/status", "/estop"]},
        }
    path = tmp_path / "faults.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def node_up(name: str) -> str:
    return rf"\[{name}\] INFO {name} \({SIM_NODES.get(name, name)}\) up"


def test_killed_nodes_are_named_then_restarted_or_the_graph_stops(tmp_path: Path) -> None:
    profile = fault_profile(tmp_path, {"camera": "on-failure", "task": "on-failure", "inference": "on-failure"})
    domain = sim_domain(140)
    proc, out = spawn_cli("launch", str(profile), "--expert", "--run-dir", str(tmp_path / "run"),
                          "--domain-id", str(domain), "--log-level", "INFO", "--set", "virtual_rig.camera_rate_hz=5")
    try:
        mark = max(out.wait_for(node_up(name))[0] for name in SIM_NODES)
        for name in ("camera", "task", "inference"):  # policy on-failure: reported, e-stop, started again
            (pid,) = node_pids(tmp_path / "run", name)
            os.kill(pid, signal.SIGKILL)
            i, _ = out.wait_for(rf"node process died: {name} \(killed by SIGKILL\); e-stop latched; "
                                rf"restarting it \(1/3, policy on-failure\)", start=mark)
            mark, _ = out.wait_for(node_up(name), start=i)
            assert node_pids(tmp_path / "run", name) not in ([], [pid])
        (pid,) = node_pids(tmp_path / "run", "arm")  # policy never (the default): the graph comes down
        os.kill(pid, signal.SIGKILL)
        out.wait_for(r"error: node process died: arm \(killed by SIGKILL\); latching e-stop and bringing the graph "
                     r"down", start=mark)
        code = out.wait_exit()
    finally:
        stop_process(proc)
    text = out.text()
    assert code == 3, text[-4000:]
    assert "e-stop latched at graph time" in text
    assert wait_no_node_processes(tmp_path / "run") == [], "node processes outlived the launcher's shutdown"


class GraphObserver:
    """A DDS participant in the test: the arm's and hand's commands, control-cycle ticks and holds."""

    def __init__(self, domain: int, graph_id: str) -> None:
        from being_h0_runtime.msgs import DiagnosticArray, JointState
        from being_h0_runtime.rig import ARM_JOINT_NAMES, HAND_DOF_NAMES
        from being_h0_runtime.transport.api import QoS
        from being_h0_runtime.transport.dds import DdsContext

        self.ctx = DdsContext(domain_id=domain, use_sim_time=True, graph_id=graph_id)
        node = self.ctx.create_node("fault_observer")
        self.cond = threading.Condition()
        self.commands: dict[str, list[float]] = {"arm": [], "hand": []}
        self.ticks: dict[str, list[float]] = {"arm": [], "hand": []}
        self.holds: dict[str, list[tuple[float, str]]] = {"arm": [], "hand": []}
        group_of = {tuple(ARM_JOINT_NAMES): "arm", tuple(HAND_DOF_NAMES): "hand"}
        deep = QoS("best_effort", 500)  # never drop a sample while the test thread is busy

        def record(kind: str, group: str, stamp: float, extra: str | None = None) -> None:
            with self.cond:
                getattr(self, kind)[group].append(stamp if extra is None else (stamp, extra))
                self.cond.notify_all()

        for group in ("arm", "hand"):
            node.create_subscription(JointState, f"/{group}/command",
                                     lambda m, g=group: record("commands", g, m.header.stamp.to_sec()), deep)

        def on_state(m: JointState) -> None:  # each actuator publishes its state once per control cycle
            group = group_of.get(tuple(m.name))
            if group:
                record("ticks", group, m.header.stamp.to_sec())

        def on_diag(m: DiagnosticArray) -> None:
            for st in m.status:
                for group in ("arm", "hand"):
                    if st.name == f"{group}: hold":
                        record("holds", group, m.header.stamp.to_sec(), st.message)

        node.create_subscription(JointState, "/joint_states", on_state, deep)
        node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, QoS("reliable", 500))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set():
            self.ctx.spin_once(0.02)

    def wait(self, predicate, timeout: float = GRAPH_TIMEOUT_S, what: str = "") -> None:
        with self.cond:
            assert self.cond.wait_for(predicate, timeout), f"timed out waiting for {what}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.ctx.shutdown()


def assert_held_within_one_cycle(obs: GraphObserver, group: str) -> None:
    """From its last command to its e-stop hold, the actuator ran no control cycle; nothing after."""
    holds = [(t, why) for t, why in obs.holds[group] if why.startswith("e-stop")]
    assert holds, f"{group} never held for the e-stop: {obs.holds[group][-5:]}"
    t_hold = holds[0][0]
    cmds = obs.commands[group]
    assert cmds, f"{group} never commanded: nothing to hold from"
    last_cmd = max(cmds)
    assert last_cmd <= t_hold, f"{group} commanded at {last_cmd:.3f} s after its hold at {t_hold:.3f} s"
    between = [t for t in obs.ticks[group] if last_cmd < t < t_hold]
    assert not between, (f"{group} ran {len(between)} control cycle(s) between its last command ({last_cmd:.3f} s) "
                         f"and its hold ({t_hold:.3f} s)")


def test_recorder_killed_mid_episode_loses_under_a_second_and_motion_holds(tmp_path: Path) -> None:
    from rosbags.rosbag2 import Reader

    from being_h0_runtime.recording.bag import load_metadata, scan

    profile = fault_profile(tmp_path, {}, recorder=True)
    domain = sim_domain(170)
    proc, out = spawn_cli("run", "--profile", str(profile), "--expert", "--seed", "3", "--run-dir", str(tmp_path / "run"),
                          "--domain-id", str(domain), "--time-limit", "120", "--startup-timeout", "240",
                          "--set", "virtual_rig.camera_rate_hz=5")
    obs = None
    try:
        _, m = out.wait_for(r"DDS: .*graph ([0-9a-f]+)")
        obs = GraphObserver(domain, m.group(1))
        out.wait_for(r"\| running \|")
        # 1.5 s of arm motion in graph time (its own command stamps), all of it being recorded
        obs.wait(lambda: len(obs.commands["arm"]) > 10 and obs.commands["arm"][-1] - obs.commands["arm"][0] > 1.5,
                 what="the arm to move for 1.5 s")
        (pid,) = node_pids(tmp_path / "run", "recorder")
        os.kill(pid, signal.SIGKILL)
        out.wait_for(r"node process died: recorder \(killed by SIGKILL\); e-stop latched; restarting it")
        _, latched = out.wait_for(r"e-stop latched at graph time ([0-9.]+) s")
        _, rec = out.wait_for(r"recovered the interrupted recording (\S+) \((\d+) messages\)")
        code = out.wait_exit()  # the e-stop aborts the episode: FAILURE, and the graph stops in order
        obs.wait(lambda: all(any(w.startswith("e-stop") for _, w in obs.holds[g]) for g in ("arm", "hand")),
                 timeout=30, what="the arm's and hand's e-stop holds")
    finally:
        stop_process(proc)
        if obs is not None:
            obs.close()
    text = out.text()
    assert code == 1 and "outcome: FAILURE" in text, text[-4000:]
    assert_held_within_one_cycle(obs, "arm")
    assert_held_within_one_cycle(obs, "hand")

    episode = Path(rec.group(1))
    assert episode.parent == tmp_path / "recordings"  # the profile's relative output_dir, beside the profile
    assert load_metadata(episode).status == "recovered"
    res = scan(episode)
    assert res.complete  # a footer again: every MCAP reader opens it
    stamps = [r.log_time_ns * 1e-9 for r in res.messages if r.topic == "/joint_states"]
    lost = float(latched.group(1)) - stamps[-1]
    assert 0 <= lost <= 1.0, f"lost {lost:.2f} s of recording"
    with Reader(episode) as reader:  # rosbags (the finalised-file reader) opens it too
        assert sum(c.msgcount for c in reader.connections if c.topic == "/joint_states") == len(stamps) > 100
    assert wait_no_node_processes(tmp_path / "run") == [], "node processes outlived the run"
