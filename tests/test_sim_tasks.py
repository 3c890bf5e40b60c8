"""The virtual rig's other benchmark tasks: close_lid, close_toolbox, pour_cup (scenes, judges, experts)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.sim import run_fresh_expert_per_chunk

from being_h0_runtime.bench.tasks import load_task
from being_h0_runtime.policy.expert import ScriptedExpertPolicy
from being_h0_runtime.policy.spec import Observation
from being_h0_runtime.sim import task_scenes
from being_h0_runtime.sim.episode import main as sweep_main
from being_h0_runtime.sim.episode import proprio_of, run_expert_episode
from being_h0_runtime.sim.task_experts import lid_frame, make_expert, task_from_poses
from being_h0_runtime.sim.world import TASK_VARIATIONS, VirtualRig

NEW_TASKS = ("close_lid", "close_toolbox", "pour_cup")


def _set_hinge(rig: VirtualRig, angle: float) -> None:
    spec = rig._task_spec
    j = rig.model.joint(spec.hinge).id
    rig.data.qpos[rig.model.jnt_qposadr[j]] = angle
    rig.data.qvel[rig.model.jnt_dofadr[j]] = 0.0


def _hold(rig: VirtualRig, seconds: float) -> None:
    """Keep the arm at home with the hand open (a policy that does nothing)."""
    rig.set_arm_target(rig.home_q)
    rig.step(round(seconds / rig.physics_dt))


@pytest.mark.parametrize("task", NEW_TASKS)
def test_scene_builds_in_each_variation_and_rejects_others(task: str) -> None:
    names = None
    for variation in TASK_VARIATIONS[task]:
        rig = VirtualRig(task=task, variation=variation, seed=0)
        poses = rig.object_poses()
        assert task_from_poses(poses) == task
        for p, q in poses.values():
            assert p.shape == (3,) and q.shape == (4,) and abs(np.linalg.norm(q) - 1) < 1e-9
        names = names or set(poses)
        assert rig.task_state() and not rig.success()
        # the rebuilt MJCF is self-contained
        assert "<mujoco" in rig.model_xml()
    with pytest.raises(ValueError, match="clutter.*does not exist"):
        VirtualRig(task=task, variation="clutter")


@pytest.mark.parametrize("task", NEW_TASKS)
def test_reset_is_deterministic_per_seed(task: str) -> None:
    a, b = VirtualRig(task=task, seed=4), VirtualRig(task=task, seed=4)
    for r in (a, b):
        r.set_arm_target(r.home_q + 0.1)
        r.set_hand_target(np.full(6, 0.5))
        r.step(200)
    np.testing.assert_array_equal(a.get_state(), b.get_state())
    pa = {k: v[0] for k, v in VirtualRig(task=task, seed=4).object_poses().items()}
    pc = {k: v[0] for k, v in VirtualRig(task=task, seed=5).object_poses().items()}
    assert any(not np.allclose(pa[k], pc[k]) for k in pa)
    a.reset(5)  # reset to another seed on the same instance == a fresh rig with that seed
    np.testing.assert_array_equal(a.get_state(), VirtualRig(task=task, seed=5).get_state())


@pytest.mark.parametrize("task", ["close_lid", "close_toolbox"])
def test_lid_judge(task: str) -> None:
    rig = VirtualRig(task=task, seed=2)
    _, _, angle = lid_frame(rig.object_poses())
    assert angle == pytest.approx(rig.task_state()["hinge_angle"], abs=1e-6)
    assert angle > 1.7  # starts open, past vertical
    _hold(rig, 1.0)
    assert not rig.success() and rig.task_state()["hinge_angle"] > 1.7  # it rests open by itself
    _set_hinge(rig, 0.3)  # partly closed is not closed (and gravity has not shut it yet)
    import mujoco

    mujoco.mj_forward(rig.model, rig.data)
    assert not rig.success()
    _set_hinge(rig, 0.02)
    mujoco.mj_forward(rig.model, rig.data)
    assert rig.success()
    _, _, angle = lid_frame(rig.object_poses())
    assert angle == pytest.approx(0.02, abs=1e-6)


def test_pour_judge() -> None:
    import mujoco

    rig = VirtualRig(task="pour_cup", seed=1)
    spec = rig._task_spec
    assert rig.task_state()["beads_in_target"] == 0
    _hold(rig, 0.5)
    assert rig.task_state()["beads_in_target"] == 0 and not rig.success()  # beads stay in the cup
    bowl = rig.object_poses()["bowl"][0]
    beads = spec.beads()
    need = int(np.ceil(task_scenes.POUR_SUCCESS_FRACTION * len(beads)))
    for i, b in enumerate(beads[: need - 1]):  # one short of the threshold
        adr = rig.model.jnt_qposadr[rig.model.body(b).jntadr[0]]
        rig.data.qpos[adr : adr + 3] = bowl + [0.02 * (i % 3) - 0.02, 0.02 * (i // 3) - 0.01, 0.02]
    mujoco.mj_forward(rig.model, rig.data)
    assert rig.task_state()["beads_in_target"] == need - 1 and not rig.success()
    adr = rig.model.jnt_qposadr[rig.model.body(beads[need - 1]).jntadr[0]]
    rig.data.qpos[adr : adr + 3] = bowl + [0.03, 0.03, 0.02]
    mujoco.mj_forward(rig.model, rig.data)
    assert rig.success()
    rig.step(300)  # and they stay there
    assert rig.success()


@pytest.mark.parametrize("task,variation,seed", [
    ("close_lid", "seen", 0), ("close_lid", "unseen", 11),
    ("close_toolbox", "seen", 3), ("close_toolbox", "unseen", 8),
    ("pour_cup", "seen", 0), ("pour_cup", "unseen", 6),
])
def test_expert_succeeds(task: str, variation: str, seed: int) -> None:
    rig = VirtualRig(task=task, variation=variation, seed=seed)
    res = run_expert_episode(rig, make_expert(task), max_seconds=30.0)
    assert res.success, f"{task}/{variation} seed {seed} failed after {res.seconds:.1f} s"
    assert 2.0 < res.seconds < 30.0


@pytest.mark.parametrize("task", NEW_TASKS)
def test_doing_nothing_fails(task: str) -> None:
    rig = VirtualRig(task=task, seed=0)
    for _ in range(40):
        _hold(rig, 0.1)
        assert not rig.success()


@pytest.mark.parametrize("task,seed", [("close_toolbox", 9), ("pour_cup", 4)])
def test_expert_is_stateless(task: str, seed: int) -> None:
    """A fresh expert per half chunk (as when another process restarts) still finishes the task."""
    rig = VirtualRig(task=task, seed=seed)
    assert run_fresh_expert_per_chunk(rig, lambda: make_expert(task), max_chunks=120)
    assert rig.success()


def test_policy_picks_expert_from_privileged_state() -> None:
    pol = ScriptedExpertPolicy(16, 10.0)
    for task in ("pick_place_toy", *NEW_TASKS):
        rig = VirtualRig(task=task, seed=1)
        obs = Observation(stamp=0.0, proprio=proprio_of(rig), proprio_names=pol.spec.names, instruction="x",
                          privileged=rig.object_poses())
        chunk = pol.infer(obs)
        assert chunk.shape == (16, 13) and chunk.dtype == np.float32
        expected = make_expert(task).act(proprio_of(rig), rig.object_poses())
        np.testing.assert_allclose(chunk, expected, atol=1e-5)
    from being_h0_runtime.policy.base import PolicyError

    with pytest.raises(PolicyError, match="unknown"):
        ScriptedExpertPolicy(task="fold_towel")
    with pytest.raises(ValueError, match="object_poses"):
        task_from_poses({"banana": (np.zeros(3), np.r_[0, 0, 0, 1.0])})


@pytest.mark.parametrize("task", NEW_TASKS)
def test_task_yaml_runs_on_the_virtual_rig(task: str) -> None:
    t = load_task(task)
    assert t.virtual and t.scene.sim_task == task
    assert set(t.variations) <= set(TASK_VARIATIONS[task])


@pytest.mark.slow
@pytest.mark.parametrize("task", NEW_TASKS)
def test_twenty_seed_sweep(task: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert sweep_main(["--task", task, "--trials", "20", "--quiet"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    wins = int(line.split("success ")[1].split("/")[0])
    assert wins >= 19, line
