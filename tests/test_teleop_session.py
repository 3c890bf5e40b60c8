"""Teleop sessions on the virtual rig: devices drive the arm and hand through the supervisor, demos and
DAgger takeovers are recorded, and the export marks the takeover frames."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from test_teleop_devices import PixelHandDetector, write_hand_video

from being_h0_runtime.msgs import ActionChunk, JointState
from being_h0_runtime.rig.franka import dh_fk
from being_h0_runtime.teleop.devices.keyboard import KeyboardConfig, KeyboardDevice
from being_h0_runtime.teleop.devices.webcam import CameraDevice, WebcamConfig
from being_h0_runtime.teleop_session import TeleopSession


class Log:
    def __init__(self, session: TeleopSession) -> None:
        n = session.ctx.create_node("probe")
        self.s = session
        self.arm: list[tuple[float, np.ndarray]] = []
        self.hand: list[tuple[float, np.ndarray]] = []
        self.chunks: list[tuple[float, str]] = []
        n.create_subscription(JointState, "/arm/command", lambda m: self.arm.append((self.now, np.array(m.position))))
        n.create_subscription(JointState, "/hand/command", lambda m: self.hand.append((self.now, np.array(m.position))))
        n.create_subscription(ActionChunk, "/action_chunk", lambda m: self.chunks.append((self.now, m.engine_id)))

    @property
    def now(self) -> float:
        return self.s.ctx.now()


class Keys:
    """Types keys into the session's terminal (a pty) at given device ticks."""

    def __init__(self, master: int, script: dict[int, bytes]) -> None:
        self.master, self.script, self.tick = master, script, 0

    def __call__(self, session: TeleopSession) -> None:
        self.tick += 1
        if self.tick in self.script:
            os.write(self.master, self.script[self.tick])


def test_keyboard_demo_is_clamped_by_the_supervisor_and_recorded(tmp_path: Path, pty_pair) -> None:
    master, slave = pty_pair
    # a generous device box: the operator can ask for a wrist 0.6 m down; the arm's workspace box (raised here
    # to 0.45 m so the test is short: home is at 0.59 m) must stop the flange
    dev = KeyboardDevice(KeyboardConfig(step_m=0.03, rate_hz=25, workspace_m=(1.0, 1.0, 1.0)), fd=slave)
    script = {10: b" "} | {k: b"ff" for k in range(11, 21)} | {70: b"q"}
    box = {"workspace": {"min": [0.15, -0.6, 0.45], "max": [0.85, 0.6, 0.9]}}
    with TeleopSession(dev, realtime=False, record_dir=tmp_path / "demos", overrides={"arm": {"safety": box}}) as s:
        log = Log(s)
        res = s.run(max_seconds=10, on_tick=Keys(master, script))
        arm = s.nodes["arm"]
        ws_min_z = arm.p.safety.workspace.min[2]
        counters = dict(arm.supervisor.counters)
    assert res.quit_by_operator and res.frames_sent >= 40
    assert {e for _, e in log.chunks} == {"teleop"}
    z = np.array([dh_fk(q)[2, 3] for _, q in log.arm])
    assert z[0] - z.min() > 0.1  # the operator's commands moved the arm down ...
    assert ws_min_z == 0.45
    assert z.min() >= ws_min_z - 0.005  # ... but the supervisor kept the flange inside the box
    assert z.min() < ws_min_z + 0.02  # (it did go down to it)
    # the box acted: clamped ("workspace") or, where no clamp stays inside, held ("infeasible")
    assert counters.get("workspace", 0) + counters.get("infeasible", 0) > 0
    # recorded: one episode, the clutch-on stretch is its (human) intervention segment
    assert res.episode_dir is not None and res.episode_dir.is_dir()
    assert len(res.interventions) == 1
    a, b = res.interventions[0]
    assert b - a > 1.0

    from being_h0_runtime.recording.export import export_dataset, load_dataset

    export_dataset([res.episode_dir], tmp_path / "ds", 10.0)
    ep = load_dataset(tmp_path / "ds").episode(0)
    inter = np.asarray(ep["intervention"])
    assert inter.any() and not inter.all()
    # and in the LeRobot export, as a per-frame bool column
    import pyarrow.parquet as pq

    from being_h0_runtime.recording.lerobot import export_lerobot

    info = export_lerobot([res.episode_dir], tmp_path / "lerobot", 10.0)
    assert info["features"]["intervention"]["dtype"] == "bool"
    col = pq.read_table(tmp_path / "lerobot" / "data" / "chunk-000" / "file-000.parquet").column("intervention")
    assert col.to_pylist() == inter.tolist()


def test_video_device_closes_the_inspire_hand(tmp_path: Path) -> None:
    n = 50  # 2.5 s at 20 fps: open, close, hold closed
    closures = np.r_[np.zeros(15), np.linspace(0, 1, 15), np.ones(20)]
    video = write_hand_video(tmp_path / "hand.avi", closures, np.full(n, 0.5))
    dev = CameraDevice(video, WebcamConfig(clutch="visible"), detector=PixelHandDetector())
    with TeleopSession(dev, realtime=False) as s:
        log = Log(s)
        res = s.run(max_seconds=10)
    assert res.quit_by_operator  # the video ended
    assert res.frames_sent == n
    hand = np.array([q for _, q in log.hand])
    assert hand[:10].mean() < hand[-10:].mean()  # the hand closed as the video's hand did
    names = list(s.nodes["hand"].joint_names)
    i = names.index("index")
    lo, hi = s.nodes["hand"].supervisor.limits.pos_min[i], s.nodes["hand"].supervisor.limits.pos_max[i]
    assert (hand[-1, i] - hand[0, i]) / (hi - lo) > 0.5


def test_dagger_takeover_cuts_the_policy_chunk_and_is_recorded(tmp_path: Path, pty_pair) -> None:
    master, slave = pty_pair
    dev = KeyboardDevice(KeyboardConfig(rate_hz=25), fd=slave)
    from being_h0_runtime.policy.expert import with_expert

    # the ensemble executor keeps blending every chunk covering now: without the cut the expert's last chunk
    # would keep moving the arm for its whole length after the operator took over
    over = with_expert({"arm": {"executor": {"name": "ensemble"}}, "hand": {"executor": {"name": "ensemble"}}})
    take, release = 50, 75  # device ticks (25 Hz): 2.0 s and 3.0 s after start
    with TeleopSession(dev, policy=True, overrides=over, realtime=False, record_dir=tmp_path / "dagger") as s:
        log = Log(s)
        res = s.run(max_seconds=4.5, on_tick=Keys(master, {take: b" ", release: b" "}))
    t0 = log.chunks[0][0]
    policy_before = [t for t, e in log.chunks if e != "teleop" and t < t0 + 1.9]
    assert policy_before, "the expert drove before the takeover"
    arm = [(t, q) for t, q in log.arm]
    assert len(res.interventions) == 1
    a, b = res.interventions[0]
    assert 0.8 < b - a < 1.2
    # the expert was moving just before the takeover ...
    before = [q for t, q in arm if a - 0.3 <= t < a]
    assert np.abs(before[-1] - before[0]).max() > 1e-3
    # ... and from a moment after it the arm holds where the operator (not moving) left it (settling from the
    # motion it had is a few mrad; without the cut the expert's blended chunk moves it by ~0.09 rad here)
    during = np.array([q for t, q in arm if a + 0.2 <= t < b])
    assert np.abs(during - during[0]).max() < 1e-2
    assert all(e == "teleop" for t, e in log.chunks if a + 0.05 < t < b)
    # after the release the policy drives again
    assert any(e != "teleop" for t, e in log.chunks if t > b + 0.1)


def test_policy_chunks_in_flight_during_a_takeover_are_dropped() -> None:
    """Arm and hand: while /teleop/intervention is True only the operator's (engine 'teleop') chunks are executed."""
    from being_h0_runtime.msgs import Bool
    from being_h0_runtime.msgs.convert import chunk_from_array
    from being_h0_runtime.transport.api import LATCHED_QOS
    from motion_graph import NAMES, MotionGraph, pose

    g = MotionGraph(executor="ensemble")
    try:
        flag = g.probe.create_publisher(Bool, "/teleop/intervention", LATCHED_QOS)
        g.run_until(0.55)  # the scripted policy drives (pose 0)
        flag.publish(Bool(True))
        g.ctx.run_for(0.001)
        assert g.arm.teleop_takeover and g.hand.teleop_takeover
        now = g.ctx.now()
        g.chunk_pub.publish(chunk_from_array(pose(2)[None], NAMES, 0.1, now, now, "teleop", 1))
        g.run_until(now + 0.35)  # the policy keeps publishing (in flight): dropped
        for node in (g.arm, g.hand):
            assert node.chunks_dropped["teleop_takeover"] >= 3
        # the ensemble executed only the operator's target during the takeover, never a blend with pose 0
        during = [a for t, a in g.writes["arm"].targets_between(now + 0.02, now + 0.1)]
        assert during and all(np.allclose(a, pose(2)[:7]) for a in during)
        flag.publish(Bool(False))
        g.run_until(g.ctx.now() + 0.5)
        after = g.writes["arm"].targets_between(g.ctx.now() - 0.1)
        assert after and np.allclose(after[-1][1], pose(0)[:7])  # the policy drives again
    finally:
        g.close()


def test_keyboard_e_stop_key_holds_arm_and_hand_until_x_resets(pty_pair) -> None:
    """In a teleop session the operator's e-stop is one key away: `e` latches every motion node, moves are
    ignored while latched, `x` resets, and the clutch must be taken again before the arm follows."""
    master, slave = pty_pair
    dev = KeyboardDevice(KeyboardConfig(step_m=0.02, rate_hz=25), fd=slave)
    # clutch on and move down; e-stop; keep pressing down while latched; reset; clutch on again; move up
    script = ({10: b" "} | {k: b"f" for k in range(11, 16)} | {20: b"e"} | {k: b"f" for k in range(21, 40)}
              | {45: b"x"} | {k: b"r" for k in range(47, 50)} | {50: b" "} | {k: b"r" for k in range(52, 60)}
              | {70: b"q"})
    seen: list[tuple[int, bool, bool]] = []
    z: dict[int, float] = {}  # commanded flange height at each device tick

    class Watch(Keys):
        def __call__(self, session: TeleopSession) -> None:
            super().__call__(session)
            arm, hand = session.nodes["arm"], session.nodes["hand"]
            seen.append((self.tick, arm.estop.is_latched, hand.estop.is_latched))
            if log.arm:
                z[self.tick] = float(dh_fk(log.arm[-1][1])[2, 3])

    with TeleopSession(dev, realtime=False) as s:
        log = Log(s)
        res = s.run(max_seconds=10, on_tick=Watch(master, script))
    assert res.quit_by_operator
    latched = {t for t, a, h in seen if a and h}
    assert latched and min(latched) <= 22 and max(latched) < 47, sorted(latched)  # e at 20 .. x at 45
    assert all(a == h for _, a, h in seen), "arm and hand latched differently"
    assert z[19] < z[10] - 0.03, z  # moved down before the stop
    assert abs(z[44] - z[23]) < 0.003, z  # held while latched, though "down" kept coming
    assert abs(z[49] - z[44]) < 0.01, str(z)  # reset alone moves nothing: the e-stop dropped the clutch
    assert max(z[k] for k in z if k > 52) > z[49] + 0.03, str(z)  # after the reset and a fresh clutch, it follows
