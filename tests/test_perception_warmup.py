"""Vision warm-up (being_h0_train/posttrain/perception.py): renders, targets, training, saved backbone."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "egl")

from being_h0_runtime.rig import franka
from being_h0_runtime.sim.world import BOX_REGION, TOY_REGION
from being_h0_train.posttrain.data import compact_images
from being_h0_train.posttrain.layouts import Layouts, render_layouts, target_names
from being_h0_train.posttrain.perception import TARGET_NAMES, WarmUpSettings, warm_up


def _pool(n: int = 5) -> np.ndarray:
    rng = np.random.default_rng(0)
    q = np.array(franka.READY_Q) + rng.normal(0, 0.1, (n, 7))
    return np.hstack([q, rng.uniform(0, 1, (n, 6))])


def test_layouts_are_deterministic_and_targets_lie_in_the_spawn_regions():
    lay = render_layouts(6, (320, 240), 64, _pool(), seed=3, progress=False)
    images, targets, rows = lay.images, lay.targets, lay.proprio
    assert lay.names == TARGET_NAMES and not np.isnan(targets).any()
    again = render_layouts(6, (320, 240), 64, _pool(), seed=3, progress=False)
    again, targets2 = again.images, again.targets
    # each picture was posed with one of the pool's rows
    assert rows.shape == (6, 13) and all(any(np.allclose(r, p) for p in _pool()) for r in rows)
    assert images.shape == (6, 64, 64, 3) and images.dtype == np.uint8
    assert targets.shape == (6, len(TARGET_NAMES))
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(targets, targets2)
    t = dict(zip(TARGET_NAMES, targets.T))
    assert np.all((TOY_REGION[0][0] <= t["toy_x"]) & (t["toy_x"] <= TOY_REGION[0][1]))
    assert np.all((TOY_REGION[1][0] <= t["toy_y"]) & (t["toy_y"] <= TOY_REGION[1][1]))
    assert np.all((BOX_REGION[1][0] <= t["box_y"]) & (t["box_y"] <= BOX_REGION[1][1]))
    np.testing.assert_allclose(t["toy_cos4yaw"] ** 2 + t["toy_sin4yaw"] ** 2, 1.0, atol=1e-5)
    # different layouts give different pictures
    assert np.abs(images[0].astype(int) - images[1].astype(int)).mean() > 0.5


def test_proprio_pool_must_hold_arm_and_hand_rows():
    with pytest.raises(ValueError, match="proprio_pool"):
        render_layouts(2, (320, 240), 64, np.zeros((3, 7)), progress=False)


@pytest.mark.parametrize("probe", ["flatten", "pool"])
def test_warm_up_trains_vision_and_language_model_and_reports_position_errors(probe):
    from being_h0_runtime.policy.models.vla import build_being_h0

    before = {n: p.detach().clone() for n, p in build_being_h0("sim-small", seed=0).named_parameters()}
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (24, 128, 128, 3), dtype=np.uint8)
    targets = rng.normal(size=(24, len(TARGET_NAMES))).astype(np.float32)
    proprio = rng.normal(size=(24, 13)).astype(np.float32)
    lay = Layouts(images, targets, proprio, np.zeros(24, int), ("pick_place_toy",), TARGET_NAMES)
    bb, m = warm_up("sim-small", lay, WarmUpSettings(steps=3, batch_size=4, probe=probe), progress=False)
    assert m["held_out"] == 2 and math.isfinite(m["toy_cm_median"]) and math.isfinite(m["toy_cm_median_blind"])
    # the grid readout's held-out error is reported beside the query's (which of the two failed)
    assert m["probe"] == probe and math.isfinite(m["toy_cm_grid_median"]) and "box_cm_grid_median" in m
    changed = {n for n, p in bb.named_parameters() if not torch.equal(p, before[n])}
    # the query reads the layout through the language model, so both sides learn
    assert any("vision_tower" in n for n in changed) and any("language_model" in n for n in changed)


def test_compact_images_matches_the_tile_preprocessor_up_to_rounding():
    from being_h0_runtime.policy.preprocess import TilePreprocessor

    img = np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    tiles = TilePreprocessor(128, max_tiles=1, use_thumbnail=False)
    small = compact_images(img[None], 128)[0]
    assert small.shape == (128, 128, 3)
    # one uint8 step is 1/255/std ~ 0.017 in normalised units; rounding costs at most half of it
    assert np.abs(tiles(small) - tiles(img)).max() < 0.5 / 255 / 0.224 + 1e-5
    same = np.zeros((2, 128, 128, 3), np.uint8)
    assert compact_images(same, 128) is same and compact_images(same, None) is same


def test_layouts_of_several_tasks_fill_their_own_columns_and_resume_from_cached_chunks(tmp_path):
    tasks = ("close_lid", "pour_cup")
    lay = render_layouts(4, (320, 240), 64, {"close_lid": _pool(), "pour_cup": _pool()}, seed=1, progress=False,
                         tasks=tasks, cache=tmp_path, chunk=2)
    assert lay.names == target_names(tasks) and list(lay.task) == [0, 0, 1, 1]
    col = dict(zip(lay.names, lay.targets.T))
    assert np.isnan(col["cup_x"][:2]).all() and np.isnan(col["lidbox_x"][2:]).all()
    assert (col["lidbox_hinge"][:2] > 1.5).all()  # the lid starts open past vertical
    assert np.all((0.4 < col["cup_x"][2:]) & (col["cup_x"][2:] < 0.6))
    chunks = sorted(tmp_path.glob("chunk_*.npz"))
    assert len(chunks) == 2
    kept = chunks[0].stat().st_mtime_ns
    chunks[1].unlink()  # as if cut off while rendering the second chunk
    again = render_layouts(4, (320, 240), 64, {"close_lid": _pool(), "pour_cup": _pool()}, seed=1, progress=False,
                           tasks=tasks, cache=tmp_path, chunk=2)
    assert chunks[0].stat().st_mtime_ns == kept and chunks[1].exists()
    np.testing.assert_array_equal(again.images, lay.images)
    np.testing.assert_array_equal(again.targets, lay.targets)
    # a run with another sample count cuts its chunks differently: it must not pick up these files' rows
    more = render_layouts(6, (320, 240), 64, {"close_lid": _pool(), "pour_cup": _pool()}, seed=1, progress=False,
                          tasks=tasks, cache=tmp_path, chunk=3)
    assert len(more.images) == 6 and list(more.task) == [0, 0, 0, 1, 1, 1]  # chunk 0 starts at the same seed


def test_warm_up_killed_mid_run_resumes_to_the_same_weights(tmp_path):
    import signal
    import threading
    import time

    rng = np.random.default_rng(2)
    n = 20
    names = target_names(("pick_place_toy", "close_lid"))
    targets = rng.normal(size=(n, len(names))).astype(np.float32)
    targets[:10, 7:] = np.nan  # the first ten are pick_place_toy layouts, the rest close_lid
    targets[10:, :7] = np.nan
    lay = Layouts(rng.integers(0, 255, (n, 128, 128, 3), dtype=np.uint8), targets,
                  rng.normal(size=(n, 13)).astype(np.float32), np.repeat([0, 1], 10), ("pick_place_toy", "close_lid"),
                  names)
    s = WarmUpSettings(steps=4, batch_size=2, save_every=1)
    words = {"pick_place_toy": "pick up the toy and put it in the box", "close_lid": "close the lid of the box"}
    straight, m = warm_up("sim-small", lay, s, words, progress=False, checkpoints=tmp_path / "a")
    assert {"toy_cm_median", "lidbox_cm_median", "box_cm_median_blind"} <= set(m)
    ck = tmp_path / "b"

    def kill_after_first_checkpoint() -> None:
        deadline = time.monotonic() + 120
        while not (ck / "step_0000001").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=kill_after_first_checkpoint, daemon=True).start()
    none, stopped = warm_up("sim-small", lay, s, words, progress=False, checkpoints=ck)
    assert none is None and stopped["interrupted"] == signal.SIGTERM and 1 <= stopped["stopped_at"] < 4
    resumed, _ = warm_up("sim-small", lay, s, words, progress=False, checkpoints=ck)
    a, b = dict(straight.named_parameters()), dict(resumed.named_parameters())
    for name, value in a.items():
        assert torch.equal(value, b[name]), name


def test_an_unknown_probe_is_refused_by_name():
    from being_h0_train.posttrain.perception import grid_probe

    with pytest.raises(ValueError, match="flatten or pool"):
        grid_probe("attention", 64, 128, 6)
    pooled = grid_probe("pool", 64, 128, 6)
    x = torch.randn(3, 64, 128)
    # pooling makes the readout blind to which token holds what: a token permutation changes nothing
    torch.testing.assert_close(pooled(x), pooled(x[:, torch.randperm(64)]))


def test_a_seen_fraction_mixes_the_benchs_seen_scenes_into_train_layouts_under_their_own_seeds():
    from being_h0_train.posttrain.perception import render_mix

    s = WarmUpSettings(samples=4, variation="train", seen_fraction=0.5)
    lay = render_mix(s, (320, 240), 64, _pool(), ("pick_place_toy",), None, progress=False)
    assert len(lay.images) == 4 and list(lay.seen) == [False, False, True, True]
    seen = render_layouts(2, (320, 240), 64, _pool(), seed=s.seed + 500, progress=False, variation="seen")
    np.testing.assert_array_equal(lay.images[2:], seen.images)  # the seen part is exactly those scenes
    train = render_layouts(2, (320, 240), 64, _pool(), seed=s.seed, progress=False, variation="train")
    np.testing.assert_array_equal(lay.images[:2], train.images)
    # seen-only warm-ups and a fraction of 0 are not mixed; a fraction of 1 would leave no train layout
    plain = render_mix(WarmUpSettings(samples=2, variation="seen", seen_fraction=0.5), (320, 240), 64, _pool(),
                       ("pick_place_toy",), None, progress=False)
    assert plain.seen is None
    with pytest.raises(ValueError, match="seen_fraction"):
        render_mix(WarmUpSettings(samples=2, variation="train", seen_fraction=1.0), (320, 240), 64, _pool(),
                   ("pick_place_toy",), None, progress=False)


def test_mixed_layouts_report_the_train_variation_rows_on_their_own():
    rng = np.random.default_rng(3)
    n = 40
    lay = Layouts(rng.integers(0, 255, (n, 128, 128, 3), dtype=np.uint8),
                  rng.normal(size=(n, len(TARGET_NAMES))).astype(np.float32), rng.normal(size=(n, 13)).astype(np.float32),
                  np.zeros(n, int), ("pick_place_toy",), TARGET_NAMES, seen=np.arange(n) % 2 == 0)
    _, m = warm_up("sim-small", lay, WarmUpSettings(steps=2, batch_size=4), progress=False)
    assert math.isfinite(m["toy_cm_median_train_rows"]) and math.isfinite(m["box_cm_median_train_rows"])
    with pytest.raises(ValueError, match="cannot mix"):
        lay.concat(Layouts(lay.images, lay.targets, lay.proprio, lay.task, ("close_lid",), TARGET_NAMES))
