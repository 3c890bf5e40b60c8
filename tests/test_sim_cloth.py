"""unfold_clothes: the covered-area judge, the folded scene, the pinch model, the scripted expert, registration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from being_h0_runtime.bench.tasks import list_tasks, load_task
from being_h0_runtime.sim.cloth_task import (
    CLOTH_SEEN,
    CLOTH_UNSEEN,
    UNFOLDED_FRACTION,
    covered_fraction,
)
from being_h0_runtime.sim.episode import main as sweep_main
from being_h0_runtime.sim.episode import proprio_of, run_expert_episode
from being_h0_runtime.sim.task_experts import make_expert, task_from_poses
from being_h0_runtime.sim.world import TASK_VARIATIONS, TASKS, VirtualRig

TASK = "unfold_clothes"


@pytest.fixture(scope="module")
def seen_rig() -> VirtualRig:
    return VirtualRig(task=TASK, variation="seen", seed=0)


def _flat(rig: VirtualRig, yaw: float = 0.0, z: float = 0.002, fold: tuple | None = None) -> np.ndarray:
    """Vertex positions of the rig's cloth laid out (or folded) at heading `yaw`, centred at (0.5, 0)."""
    spec = rig._task_spec
    uv = spec.material_coords(rig.model)
    if fold is not None:
        uv = spec.fold(uv, *fold)
    c, s = math.cos(yaw), math.sin(yaw)
    return np.c_[0.5 + c * uv[:, 0] - s * uv[:, 1], s * uv[:, 0] + c * uv[:, 1], np.full(len(uv), z)]


# ------------------------------------------------------------------------------------------- the judge
@pytest.mark.parametrize("yaw", [0.0, 0.3, math.pi / 4, 1.1, 2.5])
def test_flat_cloth_covers_all_and_half_folded_half_at_any_heading(seen_rig: VirtualRig, yaw: float) -> None:
    spec, tris = seen_rig._task_spec, seen_rig._task_spec.triangles(seen_rig.model)
    flat = covered_fraction(_flat(seen_rig, yaw), tris, spec.flat_area)
    half = covered_fraction(_flat(seen_rig, yaw, fold=(0, 1, 0.5)), tris, spec.flat_area)
    start = covered_fraction(_flat(seen_rig, yaw, fold=(1, -1, 0.625)), tris, spec.flat_area)
    assert flat == pytest.approx(1.0, abs=0.03)
    assert half == pytest.approx(0.5, abs=0.03)  # two layers count once: a union, not a sum of areas
    assert start == pytest.approx(0.625, abs=0.03)
    assert flat >= UNFOLDED_FRACTION > start


def test_lifted_or_crumpled_cloth_covers_little(seen_rig: VirtualRig) -> None:
    spec, tris = seen_rig._task_spec, seen_rig._task_spec.triangles(seen_rig.model)
    held_up = _flat(seen_rig, z=0.05)  # spread out, but in the air: nothing lies on the table
    assert covered_fraction(held_up, tris, spec.flat_area) == 0.0
    crumpled = _flat(seen_rig)
    crumpled[:, :2] = 0.5 + 0.25 * (crumpled[:, :2] - 0.5)  # squeezed into a 6 cm ball's footprint
    crumpled[:, 2] = 0.002 + np.random.default_rng(0).uniform(0, 0.01, len(crumpled))
    assert covered_fraction(crumpled, tris, spec.flat_area) < 0.1
    half_up = _flat(seen_rig)
    half_up[half_up[:, 0] > 0.5 + 1e-9, 2] = 0.08  # one half hanging from the hand
    assert covered_fraction(half_up, tris, spec.flat_area) == pytest.approx(0.5, abs=0.05)


def test_bad_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="odd vertex counts"):
        type(CLOTH_SEEN)(count=(8, 9))
    with pytest.raises(ValueError, match="grid line"):
        type(CLOTH_SEEN)(flap_fractions=(0.6,))
    with pytest.raises(ValueError, match="0.75"):
        type(CLOTH_SEEN)(flap_fractions=(0.75,))  # the centre landmark would sit on the fixed edge


# ------------------------------------------------------------------------------------------- the scene
@pytest.mark.parametrize("variation", ["seen", "unseen"])
def test_scene_starts_folded_with_nine_landmarks(variation: str) -> None:
    rig = VirtualRig(task=TASK, variation=variation, seed=3)
    poses = rig.object_poses()
    assert sorted(poses) == [f"cloth_pt{a}{b}" for a in range(3) for b in range(3)]
    assert task_from_poses(poses) == TASK
    for p, q in poses.values():
        assert p.shape == (3,) and np.allclose(q, [0, 0, 0, 1]) and p[2] < 0.01
    rig.step(250)  # settles without moving: both layers rest on the table
    st = rig.task_state()
    flaps = rig._task_spec.flap_fractions  # the folded start covers the flap's share of the flat area
    assert min(abs(st["coverage"] - f) for f in flaps) < 0.03 and st["max_height"] < 0.005
    assert not rig.success()


def test_variations_and_reset_determinism() -> None:
    assert TASK in TASKS and TASK_VARIATIONS[TASK] == ("seen", "unseen")
    with pytest.raises(ValueError, match="clutter.*does not exist"):
        VirtualRig(task=TASK, variation="clutter")
    a, b, c = (VirtualRig(task=TASK, seed=s) for s in (4, 4, 5))
    for r in (a, b):
        r.set_arm_target(r.home_q + 0.1)
        r.step(100)
    np.testing.assert_array_equal(a.get_state(), b.get_state())
    pa, pc = a.object_poses(), c.object_poses()
    assert any(not np.allclose(pa[k][0], pc[k][0], atol=1e-3) for k in pa)
    assert CLOTH_UNSEEN.size != CLOTH_SEEN.size and set(CLOTH_UNSEEN.colours).isdisjoint(CLOTH_SEEN.colours)


def test_closing_the_hand_away_from_the_cloth_grips_nothing(seen_rig: VirtualRig) -> None:
    seen_rig.reset(0)
    seen_rig.set_hand_target(np.ones(6))
    seen_rig.step(400)
    assert seen_rig._task_spec.gripped(seen_rig.model, seen_rig.data) == []
    assert seen_rig.task_state()["coverage"] == pytest.approx(0.625, abs=0.03)


# ------------------------------------------------------------------------------------------- the expert
def test_expert_unfolds_the_cloth() -> None:
    """Seed 4: pinch, lay-over, release, hand away; the judge's success holds (see the report for the rate)."""
    rig = VirtualRig(task=TASK, seed=4)
    expert = make_expert(TASK)
    res = run_expert_episode(rig, expert, max_seconds=20)
    assert res.success, rig.task_state()
    assert rig.task_state()["coverage"] >= UNFOLDED_FRACTION


def test_expert_rejects_missing_landmarks(seen_rig: VirtualRig) -> None:
    seen_rig.reset(0)
    poses = seen_rig.object_poses()
    poses.pop("cloth_pt11")
    with pytest.raises(ValueError, match="cloth_pt11"):
        make_expert(TASK).act(proprio_of(seen_rig), poses)


@pytest.mark.slow
def test_expert_sweep_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert sweep_main(["--task", TASK, "--trials", "4", "--first-seed", "1", "--quiet", "--max-seconds", "30"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert int(line.split("success ")[1].split("/")[0]) >= 1, line


# ------------------------------------------------------------------------------------------- registration
def test_bench_and_sweep_know_the_task(capsys: pytest.CaptureFixture[str]) -> None:
    t = load_task(TASK)
    assert t.virtual and t.scene.sim_task == TASK and set(t.variations) == {"seen", "unseen"}
    assert TASK in [x.id for x in list_tasks()]
    with pytest.raises(SystemExit):
        sweep_main(["--help"])
    assert TASK in capsys.readouterr().out
