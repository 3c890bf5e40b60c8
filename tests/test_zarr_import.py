"""`being-h0 dataset import`: the released zarr post-training layout -> our dataset; one post-training step on it.

The fixture zarr (tests/fixtures/official/h0_post_train_tiny.zarr) was written
with zarr 2 by scripts/fixtures/build_official_tokenizer_fixture.py and read
back by the official convert_zarr_to_lerobotzarr.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")

from being_h0_runtime.recording.dataset_cli import main as dataset_main
from being_h0_runtime.recording.zarr_import import import_zarr

FIX = Path(__file__).parent / "fixtures" / "official" / "h0_post_train_tiny.zarr"


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zimp") / "ds"
    assert dataset_main(["import", str(FIX), "--out", str(out)]) == 0
    return out


def test_import_maps_arm_and_hand(imported):
    src = zarr.open(str(FIX), mode="r")
    arm, hand, action = (np.asarray(src[k][:]) for k in ("data/right_arm_qpos", "data/right_hand_qpos", "data/action"))
    meta = json.loads((imported / "meta.json").read_text())
    assert meta["format"] == "being_h0_posttrain" and meta["fps"] == 20.0
    assert [e["length"] for e in meta["episodes"]] == [24, 20, 28]
    assert meta["proprio_names"][:7] == [f"fr3_joint{i}" for i in range(1, 8)]
    assert meta["proprio_names"][7:] == ["little", "ring", "middle", "index", "thumb_bend", "thumb_rotation"]
    assert meta["source_mapping"]["hand_units"] == {"h0_post_train_tiny.zarr": "raw"}
    with np.load(imported / "episode_000001.npz") as z:
        sl = slice(24, 44)
        np.testing.assert_allclose(z["proprio"][:, :7], arm[sl], atol=1e-6)
        np.testing.assert_allclose(z["proprio"][:, 7:], (1000.0 - hand[sl]) / 1000.0, atol=1e-6)  # 1000 = open
        np.testing.assert_allclose(z["action"][:, :7], action[sl, :7], atol=1e-6)
        np.testing.assert_allclose(z["action"][:, 7:], (1000.0 - action[sl, 7:]) / 1000.0, atol=1e-6)
        np.testing.assert_array_equal(z["images"], np.asarray(src["data/camera_0.rgb"][sl]))
        assert str(z["instruction"]) == "Put the little yellow duck into the cup."
        np.testing.assert_allclose(np.diff(z["timestamps"]), 0.05)


def test_one_posttraining_step_runs_on_import(imported, tmp_path, capsys):
    from being_h0_train.posttrain.data import load_episodes
    from being_h0_train.posttrain.train import main as posttrain_main

    eset = load_episodes(imported)
    assert len(eset.episodes) == 3 and len(eset.action_names) == 13 and eset.control_rate_hz == 20.0
    rc = posttrain_main(["--data", str(imported), "--out", str(tmp_path / "run"), "--backbone", "tiny",
                         "--steps", "1", "--batch-size", "2", "--val-fraction", "0", "--head-hidden", "32",
                         "--proprio-hidden", "32", "--max-tiles", "1", "--quiet"])
    assert rc == 0
    assert "over 1 steps" in capsys.readouterr().out
    assert (tmp_path / "run" / "final").is_dir()


def test_hand_units_closure_and_instruction(tmp_path):
    info = import_zarr(FIX, tmp_path / "ds", hand_units="closure", instruction="pick the duck")
    assert info.hand_units == "closure"
    with np.load(tmp_path / "ds" / "episode_000000.npz") as z:
        assert str(z["instruction"]) == "pick the duck"
        assert z["proprio"][:, 7:].max() > 2  # copied unchanged, as asked


def test_folder_of_stores_imports_each_as_a_task(tmp_path):
    src = tmp_path / "db"
    for name in ("pick_duck", "stack_cups"):
        shutil.copytree(FIX, src / f"{name}.zarr")
    info = import_zarr(src, tmp_path / "ds")
    meta = json.loads((tmp_path / "ds" / "meta.json").read_text())
    assert info.num_episodes == 6 and info.num_frames == 144
    assert [e["task_id"] for e in meta["episodes"]] == ["pick_duck"] * 3 + ["stack_cups"] * 3
    assert meta["episodes"][3]["file"] == "episode_000003.npz" and meta["episodes"][3]["length"] == 24


# ----------------------------------------------------------------------------- bad input
def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "src.zarr"
    shutil.copytree(FIX, dst)
    return dst


def _set_shape(src: Path, key: str, shape: list[int]) -> None:
    p = src / key / ".zarray"
    meta = json.loads(p.read_text())
    meta["shape"] = shape
    meta["chunks"] = [min(c, s) for c, s in zip(meta["chunks"], shape)]
    p.write_text(json.dumps(meta))


def _bad():
    def missing_key(src):
        shutil.rmtree(src / "data" / "action")
        return "missing key 'data/action'"

    def wrong_arm_width(src):
        _set_shape(src, "data/right_arm_qpos", [72, 6])
        return "'data/right_arm_qpos' has width 6, expected 7"

    def wrong_action_width(src):
        _set_shape(src, "data/action", [72, 14])
        return "'data/action' has width 14, expected 13"

    def row_mismatch(src):
        _set_shape(src, "data/right_hand_qpos", [70, 6])
        return "'data/right_hand_qpos' has 70 rows"

    def episode_ends_past_data(src):
        _set_shape(src, "data/camera_0.rgb", [60, 32, 40, 3])
        for k in ("data/right_arm_qpos", "data/right_hand_qpos", "data/action"):
            _set_shape(src, k, [60, json.loads((src / k / ".zarray").read_text())["shape"][1]])
        return "'meta/episode_ends' must increase strictly and end at 60"

    def not_a_store(src):
        shutil.rmtree(src)
        src.mkdir()
        (src / "readme.txt").write_text("hello")
        return "src.zarr"

    return [missing_key, wrong_arm_width, wrong_action_width, row_mismatch, episode_ends_past_data, not_a_store]


@pytest.mark.parametrize("case", _bad(), ids=lambda f: f.__name__)
def test_bad_zarr_fails_cleanly(case, tmp_path, capsys):
    src = _copy(tmp_path)
    problem = case(src)
    parent = tmp_path / "out"
    parent.mkdir()
    rc = dataset_main(["import", str(src), "--out", str(parent / "ds")])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert str(src) in err and problem in err, err
    assert list(parent.iterdir()) == []


def test_unclear_hand_units_copied_with_warning(tmp_path, capsys):
    src = _copy(tmp_path)
    vals = np.linspace(-0.2, 1.5, 72 * 6).reshape(72, 6)
    zarr.open_array(str(src / "data" / "right_hand_qpos"), mode="r+")[:] = vals
    act = zarr.open_array(str(src / "data" / "action"), mode="r+")
    act[:, 7:13] = vals
    rc = dataset_main(["import", str(src), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 0 and "warning:" in err and "-0.2..1.5" in err and "--hand-units" in err
    meta = json.loads((tmp_path / "x" / "meta.json").read_text())
    assert meta["source_mapping"]["hand_units"] == {"src.zarr": "unchanged"}
    with np.load(tmp_path / "x" / "episode_000000.npz") as z:
        np.testing.assert_allclose(z["proprio"][:, 7:], vals[:24], atol=1e-6)
    rc = dataset_main(["import", str(src), "--out", str(tmp_path / "y"), "--hand-units", "open-fraction"])
    assert rc == 0
    with np.load(tmp_path / "y" / "episode_000000.npz") as z:
        np.testing.assert_allclose(z["action"][:, 7:], 1.0 - vals[:24], atol=1e-6)
    rc = dataset_main(["import", str(src), "--out", str(tmp_path / "z"), "--fps", "0"])
    assert rc == 2 and "fps must be > 0" in capsys.readouterr().err
