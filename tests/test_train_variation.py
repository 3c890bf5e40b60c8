"""The `train` variation: reproducible per seed, varied across seeds, clear of the bench's held-out scenes."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from being_h0_runtime.bench.tasks import parse_task_spec
from being_h0_runtime.config import ConfigError
from being_h0_runtime.sim import scene, task_scenes
from being_h0_runtime.sim import train_variation as tv
from being_h0_runtime.sim.episode import run_expert_episode
from being_h0_runtime.sim.task_experts import make_expert
from being_h0_runtime.sim.world import TRAIN_TASKS, VirtualRig

SHEET = Path(__file__).resolve().parents[1] / "docs" / "train_variation_pick_place_toy.png"


def _half_extents(o: scene.ObjectSpec) -> tuple[str, np.ndarray]:
    """Written out again here (not `tv.shape_signature`) so a bug there cannot hide from this test."""
    s = np.asarray(o.size, float)
    if o.geom_type == "box":
        return "box", np.r_[np.sort(s[:2])[::-1], s[2]]
    if o.geom_type == "cylinder":
        return "cylinder", np.r_[s[0], s[0], s[1]]
    if o.geom_type == "sphere":
        return "round", np.r_[s[0], s[0], s[0]]
    if o.geom_type == "ellipsoid":
        return "round", np.r_[np.sort(s[:2])[::-1], s[2]]
    assert o.geom_type == "capsule", o
    if o.lying:
        return "round", np.r_[s[0] + s[1], s[0], s[0]]
    return "round", np.r_[s[0], s[0], s[0] + s[1]]


def _bench_held_out_rgb() -> np.ndarray:
    """Every colour of the bench's non-seen variations, listed by hand from the specs."""
    rgb = [o.rgba for o in scene.UNSEEN_TOYS + scene.DISTRACTORS]
    rgb += [task_scenes.TOOLBOX_UNSEEN.rgba, task_scenes.TOOLBOX_UNSEEN.lid_rgba,
            task_scenes.LIDBOX_UNSEEN.rgba, task_scenes.LIDBOX_UNSEEN.lid_rgba,
            task_scenes.POUR_UNSEEN.cup_rgba, task_scenes.POUR_UNSEEN.bead_rgba, task_scenes.POUR_UNSEEN.bowl_rgba]
    rgb += list(task_scenes.TASK_SPECS["unfold_clothes"]["unseen"].colours)
    return np.array([c[:3] for c in rgb])


def _train_colours(task: str, spec: scene.SceneSpec) -> list[tuple[float, ...]]:
    cs = [d.rgba for d in spec.distractors]
    if task == "pick_place_toy":
        return cs + [spec.toy.rgba]
    return cs + [c for c in tv.task_colours(task, spec.task_spec)]


def test_held_out_colour_list_covers_every_bench_variation() -> None:
    mine, theirs = _bench_held_out_rgb(), tv.held_out_colours()
    assert len(theirs) >= len(mine) > 15
    for c in mine:
        assert tv.colour_distance(c, theirs) < 1e-9, f"{c} missing from train_variation.held_out_colours()"


@pytest.mark.parametrize("task", TRAIN_TASKS)
def test_train_draws_keep_clear_of_held_out_shapes_and_colours(task: str) -> None:
    """Many train seeds: no object within the colour margin of a held-out colour, no toy/distractor within
    the shape margin of a held-out object, no container within the margin of the unseen one's size."""
    held_rgb = _bench_held_out_rgb()
    held_shapes = [_half_extents(o) for o in scene.UNSEEN_TOYS + scene.DISTRACTORS]
    closest_colour = closest_shape = math.inf
    n_draws = 1500 if task == "pick_place_toy" else 400
    for seed in range(n_draws):
        spec = tv.draw_scene_spec(task, np.random.default_rng(seed))
        for c in _train_colours(task, spec):
            closest_colour = min(closest_colour, float(np.min(np.linalg.norm(held_rgb - np.asarray(c[:3]), axis=1))))
        objects = list(spec.distractors) + ([spec.toy] if task == "pick_place_toy" else [])
        for o, (hk, he) in itertools.product(objects, held_shapes):
            k, e = _half_extents(o)
            if k == hk:
                closest_shape = min(closest_shape, float(np.max(np.abs(e - he))))
        if task != "pick_place_toy":
            unseen = task_scenes.TASK_SPECS[task]["unseen"]
            gap = max(abs(getattr(spec.task_spec, f) - getattr(unseen, f)) for f in tv.randomised_dimensions(task))
            closest_shape = min(closest_shape, gap)
    assert closest_colour >= tv.COLOUR_MARGIN, closest_colour
    assert closest_shape >= tv.SHAPE_MARGIN_M, closest_shape
    if task != "pick_place_toy":  # ... and by construction: the ranges themselves keep clear
        assert tv.held_out_dimension_gap(task) >= tv.SHAPE_MARGIN_M - 1e-12
    assert tv.COLOUR_MARGIN >= 0.2 and tv.SHAPE_MARGIN_M >= 0.004  # the documented margins


def test_toy_family_is_wider_than_the_unseen_set() -> None:
    """Every unseen shape class and a capsule appear; sizes span past the unseen toys' on both sides."""
    toys = [tv.draw_scene_spec("pick_place_toy", np.random.default_rng(s)).toy for s in range(600)]
    kinds = {t.geom_type for t in toys}
    assert kinds >= {"box", "cylinder", "ellipsoid", "capsule"}
    widths = [_half_extents(t)[1][0] for t in toys]
    unseen_widths = [_half_extents(t)[1][0] for t in scene.UNSEEN_TOYS]
    assert min(widths) < min(unseen_widths) and max(widths) >= max(unseen_widths) - 1e-3
    hues = {int(np.argmax(t.rgba[:3])) for t in toys}
    assert hues == {0, 1, 2}  # red-, green- and blue-dominant colours all occur
    assert len({t.rgba for t in toys}) == len(toys)


def test_same_seed_same_scene_other_seed_other_scene() -> None:
    a, b = VirtualRig("pick_place_toy", "train", seed=11, image_size=(64, 48)), \
        VirtualRig("pick_place_toy", "train", seed=11, image_size=(64, 48))
    assert a.model_xml() == b.model_xml()
    np.testing.assert_array_equal(a.get_state(), b.get_state())
    xml_a, toy_a, cam_a = a.model_xml(), a._spec.toy, a.camera_pose()
    a.reset(12)
    assert a.model_xml() != xml_a and a._spec.toy != toy_a
    assert not np.allclose(a.camera_pose()[0], cam_a[0])
    # back to seed 11 on the same rig: the same scene again (the model is rebuilt from the seed alone)
    a.reset(11)
    assert a.model_xml() == xml_a
    np.testing.assert_array_equal(a.get_state(), b.get_state())


def test_renderers_kept_across_model_rebuilds_draw_what_fresh_ones_draw() -> None:
    """Train resets recompile the model but keep the GL contexts (`CameraRenderers.rebind`): the colour and
    depth frames must equal those of a rig that opened its renderers on that model."""
    rig = VirtualRig("pick_place_toy", "train", seed=0, image_size=(96, 72))
    rig.render()  # open both renderers on seed 0's model
    for s in (3, 8):
        rig.reset(s)
        fresh = VirtualRig("pick_place_toy", "train", seed=s, image_size=(96, 72))
        for a, b in zip(rig.render(), fresh.render()):
            np.testing.assert_array_equal(a, b)
        fresh.close()
    rig.close()


def test_camera_jitter_stays_within_a_few_mm_and_degrees() -> None:
    seen = VirtualRig("pick_place_toy", "seen", seed=0, image_size=(64, 48))
    p0, q0 = seen.camera_pose()
    rig = VirtualRig("pick_place_toy", "train", seed=0, image_size=(64, 48))
    shifts, angles = [], []
    for s in range(40):
        rig.reset(s)
        p, q = rig.camera_pose()
        shifts.append(np.max(np.abs(p - p0)))
        angles.append(math.degrees(2 * math.acos(min(1.0, abs(float(np.dot(q, q0)))))))
    assert 0.001 < max(shifts) <= tv.CAMERA_SHIFT_M + 1e-9
    assert 0.3 < max(angles) <= math.sqrt(3) * tv.CAMERA_TILT_DEG + 1e-6


@pytest.mark.parametrize("task", TRAIN_TASKS)
def test_train_scene_objects_and_distractors_clear_of_the_task(task: str) -> None:
    rig = VirtualRig(task, "train", seed=0, image_size=(64, 48))
    seen_counts = set()
    for s in range(12):
        rig.reset(s)
        poses = rig.object_poses()
        ds = [n for n in poses if n.startswith("distractor")]
        seen_counts.add(len(ds))
        anchors = {n: p[:2] for n, (p, _) in poses.items() if n in tv.TASK_CLEARANCE_M}
        for d in ds:
            xy = poses[d][0][:2]
            if xy[0] < 0:  # no free spot: parked behind the robot
                continue
            for n, a in anchors.items():
                assert np.linalg.norm(xy - a) > tv.TASK_CLEARANCE_M[n], (s, d, n)
            if task == "pick_place_toy":
                assert not tv._inside(xy, tv.TOY_KEEP_OUT), (s, d)
        assert not rig.success()
    assert len(seen_counts) >= 3  # 0..3 distractors


def test_bench_selects_train_only_when_asked() -> None:
    assert [v for _, v in parse_task_spec("pick_place_toy")] == ["seen", "unseen", "clutter"]
    assert [v for _, v in parse_task_spec("pick_place_toy:train")] == ["train"]
    assert [v for _, v in parse_task_spec("pour_cup:train")] == ["train"]
    with pytest.raises(ConfigError, match="variation 'train' is not in field 'variations'"):
        parse_task_spec("unfold_clothes:train")
    with pytest.raises(ValueError, match="does not exist"):
        VirtualRig("unfold_clothes", "train")


@pytest.mark.parametrize("task,seed", [("pick_place_toy", 3), ("close_lid", 1), ("close_toolbox", 2),
                                       ("pour_cup", 4)])
def test_expert_succeeds_on_a_train_scene(task: str, seed: int) -> None:
    rig = VirtualRig(task, "train", seed=seed, image_size=(64, 48))
    res = run_expert_episode(rig, make_expert(task), max_seconds=25.0)
    assert res.success, f"{task}/train seed {seed} failed after {res.seconds:.1f} s"


def test_contact_sheet_is_committed_and_small() -> None:
    assert SHEET.exists(), f"{SHEET} missing: python -m being_h0_runtime.sim.train_sheet --out {SHEET}"
    assert SHEET.stat().st_size < 300_000


def test_vision_warm_up_renders_train_layouts() -> None:
    """`render_layouts(..., variation="train")`: the toy/box targets still lie in their spawn regions, and the
    pictures differ from the seen variation's at the same seeds (other toys, light, table, camera)."""
    from being_h0_runtime.sim.world import TOY_REGION
    from being_h0_train.posttrain.perception import TARGET_NAMES, render_layouts

    pool = np.tile(np.r_[VirtualRig("pick_place_toy", seed=0, image_size=(64, 48)).home_q, np.zeros(6)], (2, 1))
    train_lay = render_layouts(3, (160, 120), 32, pool, seed=5, progress=False, variation="train")
    seen_lay = render_layouts(3, (160, 120), 32, pool, seed=5, progress=False)
    assert train_lay is not None and seen_lay is not None
    assert train_lay.names == TARGET_NAMES
    train, seen = train_lay.images, seen_lay.images
    t = dict(zip(TARGET_NAMES, train_lay.targets.T))
    assert np.all((TOY_REGION[0][0] <= t["toy_x"]) & (t["toy_x"] <= TOY_REGION[0][1]))
    assert np.abs(train.astype(int) - seen.astype(int)).mean() > 2.0
