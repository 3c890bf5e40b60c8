"""`make train-default` end to end at toy size: demos -> dataset -> post-train -> ONNX engine dir (manifest, parity)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from being_h0_train.pipeline.train_default import main

pytestmark = pytest.mark.slow
os.environ.setdefault("MUJOCO_GL", "egl")


def test_pipeline_produces_a_loadable_engine_with_settings_in_its_manifest(tmp_path: Path):
    engine = tmp_path / "engine"
    assert main(["--work", str(tmp_path / "work"), "--engine-dir", str(engine), "--episodes", "2", "--steps", "4",
                 "--batch-size", "2", "--trials", "0", "--seed", "7", "--jobs", "2",
                 "--warmup-samples", "20", "--warmup-steps", "2"]) == 0
    manifest = json.loads((engine / "manifest.json").read_text())
    pipeline = manifest["training"]["pipeline"]
    assert pipeline["seed"] == 7 and pipeline["episodes"] == 2 and pipeline["backbone"] == "sim-small"
    assert pipeline["warmup_samples"] == 20 and pipeline["jobs"] == 2
    # the warmed-up tower is what post-training started from
    warm = json.loads((tmp_path / "work" / "warmup" / "warmup.json").read_text())
    assert warm["metrics"]["held_out"] == 2
    training = json.loads((tmp_path / "work" / "posttrain" / "final" / "training.json").read_text())
    assert training["config"]["backbone"].endswith("warmup")
    # the single recipe trains on the recorded instruction, although the dataset carries the paraphrases
    assert training["instructions"] == {} and pipeline["instructions"] == "recorded"
    assert (tmp_path / "work" / "dataset" / "instructions.json").exists()
    # demos recorded by two worker processes keep their seed order in the dataset
    meta = json.loads((tmp_path / "work" / "dataset" / "meta.json").read_text())
    assert [e["episode_id"][-4:] for e in meta["episodes"]] == ["0000", "0001"]
    parity = json.loads((engine / "parity_report.json").read_text())
    assert json.dumps(parity).count("max_abs_err") >= 1

    from being_h0_runtime.policy.engine import load_engine_policy

    policy = load_engine_policy(engine, backend="onnxruntime")
    assert policy.spec.names[:2] == ["fr3_joint1", "fr3_joint2"] and policy.spec.chunk_len == 16


def test_multitask_pipeline_records_trains_and_exports_every_task(tmp_path: Path):
    engine = tmp_path / "engine"
    args = ["--recipe", "multitask", "--tasks", "pick_place_toy:1,close_lid:2", "--work", str(tmp_path / "work"),
            "--engine-dir", str(engine), "--steps", "3", "--batch-size", "2", "--trials", "0", "--jobs", "2",
            "--warmup-samples", "8", "--warmup-steps", "1"]
    assert main(args) == 0
    pipeline = json.loads((engine / "manifest.json").read_text())["training"]["pipeline"]
    assert pipeline["recipe"] == "multitask" and pipeline["tasks"] == ["pick_place_toy", "close_lid"]
    assert pipeline["demos_requested"] == {"pick_place_toy": 1, "close_lid": 2} and pipeline["instructions"] == "paraphrases"
    assert pipeline["task_instructions"]["close_lid"][0] == "close the lid of the box"
    meta = json.loads((tmp_path / "work" / "dataset" / "meta.json").read_text())
    assert [e["task_id"] for e in meta["episodes"]] == ["pick_place_toy", "close_lid", "close_lid"]
    warm = json.loads((tmp_path / "work" / "warmup" / "warmup.json").read_text())
    assert warm["tasks"] == ["pick_place_toy", "close_lid"] and "lidbox_hinge" in warm["targets"]
    # half the layouts show the bench's seen scenes (the query readout's bootstrap), and post-training is
    # fingerprinted with the warm-up it started from, so a redone warm-up never resumes an old post-training
    assert warm["settings"]["seen_fraction"] == 0.5 and warm["settings"]["variation"] == "train"
    post = json.loads((tmp_path / "work" / "posttrain" / "stage.json").read_text())
    assert post["backbone_stage"] == json.loads((tmp_path / "work" / "warmup" / "stage.json").read_text())
    # run again with another step count: the finished post-training is not silently mixed with new settings
    assert main([*args, "--steps", "4"]) == 2
