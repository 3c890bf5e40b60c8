"""`being-h0 bench language`: same scene, other words -> the judge's logic, and an exported engine reads the text."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import numpy as np
import pytest

from being_h0_runtime.bench.language import TaskShift, judge, main, measure_task

os.environ.setdefault("MUJOCO_GL", "egl")

WORDS = {"toy": ["pick up the toy", "grab the toy", "put the toy away"], "lid": ["close the lid", "shut the lid"]}
MEANING = {w: t for t, ws in WORDS.items() for w in ws}
SCENES = [(np.full((8, 8, 3), k, np.uint8), np.zeros(13)) for k in range(4)]


def chunk(scene_value: float, offset: float) -> np.ndarray:
    return np.full((4, 13), scene_value + offset)


def follows_meaning(image, proprio, words):  # acts on what the words mean
    return chunk(image.mean() / 100, {"toy": 0.0, "lid": 0.3}[MEANING[words]])


def reacts_to_any_text(image, proprio, words):  # a model that never learned what the words mean
    return chunk(image.mean() / 100, (zlib.crc32(words.encode()) % 1000) / 5000)


def deaf(image, proprio, words):
    return chunk(image.mean() / 100, 0.0)


@pytest.mark.parametrize(("infer", "follows"), [(follows_meaning, True), (reacts_to_any_text, False), (deaf, False)])
def test_the_judge_wants_meaning_not_just_other_tokens(infer, follows):
    s = measure_task(infer, "toy", SCENES, WORDS)
    assert s.paraphrases == WORDS["toy"][1:] and set(s.foreign_by_task) == {"lid"} and s.scenes == 4
    assert judge(s, min_shift=0.05, ratio=2.0) is follows
    if infer is follows_meaning:
        assert s.foreign_shift == pytest.approx(0.3) and s.paraphrase_shift == pytest.approx(0.0)
        assert s.scene_spread == pytest.approx(np.std([0, 0.01, 0.02, 0.03]))


def test_a_task_needs_another_task_to_compare_with():
    with pytest.raises(ValueError, match="no other task"):
        measure_task(deaf, "toy", SCENES, {"toy": WORDS["toy"]})
    assert not judge(TaskShift("t", 1, "a", [], None, 0.01, {}, 0.0), 0.05, 2.0)


@pytest.fixture(scope="module")
def random_engine(tmp_path_factory) -> Path:
    from being_h0_runtime.policy.models.posttrain import (
        NormStats,
        build_posttrain_model,
    )
    from being_h0_runtime.policy.models.posttrain_config import PostTrainConfig
    from being_h0_runtime.policy.spec import default_action_spec
    from being_h0_train.export import ExportOptions, build_engine

    names = tuple(default_action_spec(chunk_len=4).names)
    cfg = PostTrainConfig(backbone="tiny", action_names=names, proprio_names=names, chunk_len=4, head_hidden=32,
                          proprio_hidden=32, max_tiles=1)
    model = build_posttrain_model(cfg, NormStats.identity(13, 13), seed=3)
    out = tmp_path_factory.mktemp("lang") / "engine"
    build_engine(model, out, ExportOptions(warmup_hw=(48, 64)), log=lambda *_: None)
    return out


def test_the_exported_onnx_engine_takes_the_instruction(random_engine: Path):
    from being_h0_runtime.policy.engine import load_engine_policy
    from being_h0_runtime.policy.spec import Observation

    manifest = json.loads((random_engine / "manifest.json").read_text())
    assert "input_ids" in [i["name"] for i in manifest["inputs"]]
    policy = load_engine_policy(random_engine, backend="onnxruntime")
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)

    def act(words: str) -> np.ndarray:
        return policy.infer(Observation(stamp=0.0, proprio=np.zeros(13), proprio_names=policy.spec.names,
                                        instruction=words, image=image))

    toy, lid = act("pick up the toy and put it in the box"), act("close the lid of the box")
    assert np.abs(toy - lid).max() > 1e-4  # a random model: other words, other actions
    np.testing.assert_array_equal(toy, act("pick up the toy and put it in the box"))


def test_bench_language_runs_on_rig_scenes_and_writes_its_figures(random_engine: Path, tmp_path: Path):
    out = tmp_path / "language.json"
    code = main(["--engine", str(random_engine), "--tasks", "pick_place_toy,close_lid", "--scenes", "2",
                 "--json", str(out)])
    rep = json.loads(out.read_text())
    assert [t["task"] for t in rep["tasks"]] == ["pick_place_toy", "close_lid"]
    for t in rep["tasks"]:
        assert t["scenes"] == 2 and t["foreign_shift"] > 0 and t["paraphrase_shift"] is not None
        assert t["own"] in ("pick up the toy and put it in the box", "close the lid of the box")
    assert code == (0 if all(t["follows_language"] for t in rep["tasks"]) else 1)


def test_path_gap_compares_the_common_ticks_in_centimetres():
    from being_h0_runtime.bench.language import path_gap_cm

    a = np.zeros((5, 3))
    b = np.zeros((3, 3))
    b[:, 0] = [0.0, 0.01, 0.02]  # drifts 1 cm per tick along x
    assert path_gap_cm(a, b) == pytest.approx((1.0, 2.0))
    assert path_gap_cm(a, np.zeros((0, 3))) == (0.0, 0.0)
