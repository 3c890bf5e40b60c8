"""TeleopNode over real UDP on localhost: end-to-end, takeover flag, token rejection, into a recording."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from being_h0_runtime.msgs import Bool
from being_h0_runtime.msgs.being_h0 import ActionChunk
from being_h0_runtime.msgs.convert import chunk_to_array
from being_h0_runtime.nodes.recorder import RecorderNode, RecorderParams
from being_h0_runtime.nodes.teleop import TeleopNode, TeleopParams
from being_h0_runtime.recording.bag import load_metadata, scan
from being_h0_runtime.teleop.handmodel import FIST_POSE, OPEN_POSE
from being_h0_runtime.teleop.scripted import (
    ScriptedOperator,
    UdpSender,
    reach_and_grasp,
)
from being_h0_runtime.transport.api import LATCHED_QOS
from being_h0_runtime.transport.inproc import InprocContext


class Probe:
    def __init__(self, ctx: InprocContext) -> None:
        n = ctx.create_node("probe")
        self.chunks: list[ActionChunk] = []
        self.flags: list[bool] = []
        n.create_subscription(ActionChunk, "/action_chunk", self.chunks.append)
        n.create_subscription(Bool, "/teleop/intervention", lambda m: self.flags.append(m.data), LATCHED_QOS)


def _pump(ctx: InprocContext, until, wall_timeout: float = 3.0) -> bool:
    """Spin sim time in poll-period steps until `until()` (packets arrive in wall time)."""
    end = time.monotonic() + wall_timeout
    while not until():
        if time.monotonic() > end:
            return False
        ctx.run_for(0.004)
    return True


def _static(closures, clutch=True, pos=(0.3, 0.0, 0.3)):
    return lambda t: (np.array(pos), np.array([0, 0, 0, 1.0]), np.asarray(closures, float), clutch)


def test_udp_end_to_end_publishes_targets_and_takeover() -> None:
    ctx = InprocContext()
    probe = Probe(ctx)
    node = TeleopNode(ctx.create_node("teleop"), TeleopParams(port=0)).bring_up()
    sender = UdpSender(*node.address)
    try:
        op = ScriptedOperator(_static(FIST_POSE))
        for i in range(5):
            sender.send(op.packet(i / 60))
        assert _pump(ctx, lambda: node.server.stats.accepted == 5)
        assert probe.chunks and probe.flags[-1] is True
        a = chunk_to_array(probe.chunks[-1])
        assert a.shape == (1, 13) and probe.chunks[-1].names[7:] == ["little", "ring", "middle", "index",
                                                                     "thumb_bend", "thumb_rotation"]
        np.testing.assert_allclose(a[0, 7:11], 1.0, atol=1e-3)  # fist -> closed fingers
        np.testing.assert_allclose(a[0, :7], node.p.home_q, atol=1e-3)  # wrist did not move -> arm holds
        # releasing the clutch ends the takeover; no more commands
        n = len(probe.chunks)
        op.script = _static(OPEN_POSE, clutch=False)
        sender.send(op.packet(0.2))
        assert _pump(ctx, lambda: probe.flags[-1] is False)
        assert len(probe.chunks) == n
        # stale stream while engaged also releases
        op.script = _static(OPEN_POSE, clutch=True)
        sender.send(op.packet(0.3))
        assert _pump(ctx, lambda: probe.flags[-1] is True)
        assert _pump(ctx, lambda: probe.flags[-1] is False, wall_timeout=3.0)
    finally:
        sender.close()
        node.close()


def test_wrong_or_missing_token_is_rejected() -> None:
    ctx = InprocContext()
    probe = Probe(ctx)
    node = TeleopNode(ctx.create_node("teleop"), TeleopParams(port=0, token="s3cret")).bring_up()
    sender = UdpSender(*node.address)
    try:
        for tok in ("", "wrong"):
            sender.send(ScriptedOperator(_static(FIST_POSE), token=tok).packet(0.0))
        assert _pump(ctx, lambda: node.server.stats.rejected_auth == 2)
        ctx.run_for(0.05)
        assert probe.chunks == [] and node.server.stats.accepted == 0
        sender.send(ScriptedOperator(_static(FIST_POSE), token="s3cret").packet(0.0))
        assert _pump(ctx, lambda: len(probe.chunks) == 1)
    finally:
        sender.close()
        node.close()
    with pytest.raises(ValueError, match="token"):
        TeleopParams(host="0.0.0.0")


def test_scripted_operator_demo_is_recorded_with_intervention(tmp_path: Path) -> None:
    ctx = InprocContext()
    rec = RecorderNode(ctx.create_node("recorder"),
                       RecorderParams(output_dir=tmp_path, min_free_bytes=0,
                                      topics=["/action_chunk", "/teleop/intervention"])).bring_up()
    node = TeleopNode(ctx.create_node("teleop"), TeleopParams(port=0)).bring_up()
    sender = UdpSender(*node.address)
    op = ScriptedOperator(reach_and_grasp(duration=1.0), noise_m=0.001)
    try:
        ep = rec.start("grasp", "grasp the toy", operator="scripted")
        for k in range(31):  # 1 s of script at 30 Hz, sent paced with the sim clock
            sender.send(op.packet(k / 30))
            _pump(ctx, lambda k=k: node.server.stats.accepted >= k + 1, wall_timeout=2.0)
            ctx.run_for(1 / 30 - 0.004)
        op.script = _static(OPEN_POSE, clutch=False)
        sender.send(op.packet(1.1))
        assert _pump(ctx, lambda: not node.taking_over)
        rec.end()
    finally:
        sender.close()
        node.close()
    chunks = [r for r in scan(ep).messages if r.topic == "/action_chunk"]
    assert len(chunks) >= 30
    meta = load_metadata(ep)
    assert len(meta.interventions) == 1 and meta.interventions[0][1] - meta.interventions[0][0] > 0.9
