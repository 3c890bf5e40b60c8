"""Scripted pick-and-place expert on the virtual rig (pure sim loop, no ROS)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.sim import run_fresh_expert_per_chunk

from being_h0_runtime.rig import franka
from being_h0_runtime.sim.episode import main as sweep_main
from being_h0_runtime.sim.episode import proprio_of, run_expert_episode
from being_h0_runtime.sim.expert import ArmIK, ScriptedPickPlaceExpert
from being_h0_runtime.sim.keyframes import hand_rot
from being_h0_runtime.sim.world import VirtualRig


def test_ik_reaches_table_poses() -> None:
    ik = ArmIK()
    for pos, yaw in [((0.45, -0.1, 0.03), -0.2), ((0.55, 0.2, 0.12), 0.4), ((0.6, -0.2, 0.22), 1.0)]:
        q = ik.solve(np.array(franka.READY_Q), np.array(pos), hand_rot(yaw), iters=200)
        assert np.all(q >= franka.Q_MIN) and np.all(q <= franka.Q_MAX)
        p, R = ik.fk(q)
        np.testing.assert_allclose(p, pos, atol=1e-3)
        np.testing.assert_allclose(R, hand_rot(yaw), atol=1e-2)


def test_chunk_shape_and_ranges() -> None:
    rig = VirtualRig(seed=1)
    ex = ScriptedPickPlaceExpert(chunk_len=16)
    chunk = ex.act(proprio_of(rig), rig.object_poses())
    assert chunk.shape == (16, 13)
    assert np.all(chunk[:, :7] >= franka.Q_MIN) and np.all(chunk[:, :7] <= franka.Q_MAX)
    assert np.all((chunk[:, 7:] >= 0) & (chunk[:, 7:] <= 1))
    # consecutive rows respect the FR3 velocity limits at 10 Hz
    steps = np.abs(np.diff(np.vstack([rig.arm_q(), chunk[:, :7]]), axis=0))
    assert np.all(steps <= franka.DQ_MAX * 0.1 + 1e-9)
    assert ex.last_phase == "reach"
    with pytest.raises(ValueError, match="13 finite"):
        ex.act(np.zeros(12), rig.object_poses())
    with pytest.raises(ValueError, match="box"):
        ex.act(proprio_of(rig), {"toy": rig.object_poses()["toy"]})


@pytest.mark.parametrize("variation,seed", [("seen", 0), ("seen", 7), ("clutter", 3)])
def test_expert_succeeds(variation: str, seed: int) -> None:
    rig = VirtualRig(variation=variation, seed=seed)
    res = run_expert_episode(rig, ScriptedPickPlaceExpert(), max_seconds=30.0)
    assert res.success, f"{variation} seed {seed} failed after {res.seconds:.1f} s"
    assert 5.0 < res.seconds < 30.0
    assert rig.success()


def test_expert_needs_no_memory_between_chunks() -> None:
    """A fresh expert per chunk (as when another process restarts) still finishes the task."""
    rig = VirtualRig(seed=2)
    assert run_fresh_expert_per_chunk(rig, ScriptedPickPlaceExpert, max_chunks=300)
    assert rig.success()


def test_failed_episode_reports_failure() -> None:
    """With the hand forbidden to close, the judge never reports success."""

    class NoGrip(ScriptedPickPlaceExpert):
        def act(self, proprio, object_poses):
            out = super().act(proprio, object_poses)
            out[:, 7:12] = 0.0
            return out

    rig = VirtualRig(seed=0)
    res = run_expert_episode(rig, NoGrip(), max_seconds=8.0)
    assert not res.success and res.seconds == pytest.approx(8.0, abs=0.15)


@pytest.mark.slow
def test_twenty_seed_sweep(capsys: pytest.CaptureFixture[str]) -> None:
    assert sweep_main(["--trials", "20", "--quiet"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    wins = int(line.split("success ")[1].split("/")[0])
    assert wins >= 19, line
