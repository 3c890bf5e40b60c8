"""Fault injection on the virtual rig (whole graph, deterministic executor).

In each case the arm must hold within one control cycle of the moment the
fault becomes knowable, and must not resume by itself.
"""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")

from being_h0_runtime.msgs import ActionChunk, EStop, JointState  # noqa: E402
from being_h0_runtime.msgs.convert import chunk_from_array  # noqa: E402
from being_h0_runtime.operator import run_episode_inproc  # noqa: E402
from being_h0_runtime.policy.expert import with_expert  # noqa: E402
from being_h0_runtime.transport.api import COMMAND_QOS, LATCHED_QOS, QoS  # noqa: E402

# the profile's default is the shipped engine; these faults are injected into the scripted expert's episode
FAST = with_expert({"virtual_rig": {"camera_rate_hz": 0, "hand_baudrate": None}, "task": {"time_limit_s": 8.0}})
ARM_DT = 0.01  # arm node at 100 Hz in launch/sim.yaml
T_FAULT = 4.0  # seconds after start: the arm is moving towards the toy


class Probe:
    """Watches arm commands and injects one fault at T_FAULT."""

    def __init__(self, inject):
        self.inject = inject
        self.commands: list[float] = []
        self.fault_time: float | None = None

    def setup(self, ctx, nodes):
        self.ctx, self.nodes = ctx, nodes
        self.handle = ctx.create_node("probe")
        self.handle.create_subscription(JointState, "/arm/command", lambda m: self.commands.append(ctx.now()),
                                        QoS("best_effort", 100))
        self.chunk_pub = self.handle.create_publisher(ActionChunk, "/action_chunk", COMMAND_QOS)
        self.estop_pub = self.handle.create_publisher(EStop, "/estop", LATCHED_QOS)
        self._t = self.handle.create_timer(T_FAULT, self._fire)

    def _fire(self):
        self._t.cancel()
        self.fault_time = self.ctx.now()
        self.inject(self)

    def commands_after(self, t: float) -> list[float]:
        return [c for c in self.commands if c > t + 1e-9]


def run(inject, **kw):
    probe = Probe(inject)
    out = run_episode_inproc("sim", seed=2, overrides=FAST, setup=probe.setup, **kw)
    assert probe.fault_time is not None, "fault was never injected"
    return probe, out


def arm(probe):
    return probe.nodes["arm"]


def test_nan_chunk_holds_at_once_and_never_resumes_without_operator():
    def inject(p):
        names = arm(p).joint_names + p.nodes["hand"].joint_names
        bad = np.zeros((16, len(names)), np.float32)
        bad[3, 2] = np.nan
        p.chunk_pub.publish(chunk_from_array(bad, names, 0.1, p.ctx.now(), p.ctx.now(), "fault-injector"))

    probe, out = run(inject)
    assert probe.commands_after(probe.fault_time) == []  # no command at or after the fault (same instant)
    assert "chunk" in arm(probe).gate.faults
    assert not out.success


def test_estop_mid_motion_holds_within_one_cycle_and_stays_latched():
    def inject(p):
        p.estop_pub.publish(EStop(engaged=True, source="test", reason="mid-motion"))

    probe, out = run(inject)
    assert probe.commands_after(probe.fault_time) == []
    for node in ("arm", "hand"):
        assert probe.nodes[node].holding and probe.nodes[node].estop.is_latched
    assert out.state == "timeout" and "held by e-stop from test: mid-motion" in out.message


def test_inference_killed_holds_within_one_cycle_of_the_watchdog_deadline():
    def inject(p):
        for timer in list(p.ctx._timers):  # the inference node's timer is its only heartbeat
            if getattr(timer[2].callback, "__self__", None) is p.nodes["inference"]:
                timer[2].cancel()

    probe, out = run(inject)
    a = arm(probe)
    last_feed = a.watchdog.last_feed
    assert last_feed is not None and last_feed <= probe.fault_time
    deadline = last_feed + a.p.watchdog_deadline_s
    later = probe.commands_after(deadline + ARM_DT)
    assert later == [], f"arm still commanded {len(later)} cycles after the watchdog deadline"
    assert a.holding and not out.success


def test_delayed_chunks_hold_then_resume_only_on_a_fresh_chunk():
    def inject(p):
        node = p.nodes["inference"]
        original = node.tick
        resume_at = p.ctx.now() + 2.5

        def late_tick():
            if p.ctx.now() >= resume_at:
                original()

        for timer in list(p.ctx._timers):
            if getattr(timer[2].callback, "__self__", None) is node:
                timer[2].callback = late_tick
        p.resume_at = resume_at

    probe, out = run(inject, time_limit_s=20.0)
    a = arm(probe)
    assert a.gate.holds_by_reason.get("stale", 0) > 0
    stalled = [c for c in probe.commands if probe.fault_time + a.p.watchdog_deadline_s + ARM_DT < c < probe.resume_at]
    assert stalled == []
    assert probe.commands_after(probe.resume_at), "motion should resume once fresh chunks arrive"
    assert out.success  # the expert recovers after the stall
