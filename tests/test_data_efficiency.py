"""The data-efficiency study (pipeline/data_efficiency.py): nested subsets, cells of both arms, resume after a
cut, the bench stage, the table / plot files and the Wilson intervals they print."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from being_h0_train.pipeline import data_efficiency as de
from being_h0_train.pipeline import dataeff_stages
from being_h0_train.pipeline.dataeff_data import (
    subset_ids,
    subset_size,
    task_episodes,
    write_subset,
)
from being_h0_train.pipeline.dataeff_report import Cell, markdown, write_report
from being_h0_train.pipeline.recipes import StageFailed
from being_h0_train.posttrain.data import (
    Episode,
    EpisodeSet,
    save_episodes,
    synthetic_episodes,
)

os.environ.setdefault("MUJOCO_GL", "egl")
TOY = "pick up the toy and put it in the box"


def tiny_dataset(path: Path, n_toy: int = 6) -> Path:
    """n_toy pick_place_toy episodes (the rig's joint names, so the bench can drive an engine trained on them)
    and one close_lid episode in between, which the study must leave out."""
    es = synthetic_episodes(n_toy, 12, image_hw=(48, 64), seed=0)
    eps = [Episode(e.images, e.proprio, e.actions, TOY, f"toy_{i}", task_id="pick_place_toy")
           for i, e in enumerate(es.episodes)]
    e0 = es.episodes[0]
    eps.insert(2, Episode(e0.images, e0.proprio, e0.actions, "close the lid", "lid_0", task_id="close_lid"))
    return save_episodes(EpisodeSet(eps, es.action_names, es.proprio_names, 10.0), path)


def tiny_args(tmp_path: Path, data: Path, *extra: str) -> list[str]:
    return ["--dataset", str(data), "--warmup", "none", "--backbone", "tiny", "--steps", "1", "--batch-size", "2",
            "--pretrain-steps", "1", "--pretrain-clips", "3", "--pretrain-batch", "2",
            "--pretrain-tokenizer-steps", "1", "--pretrain-eval-samples", "0", "--threads", "2",
            "--work", str(tmp_path / "work"), "--engine-dir", str(tmp_path / "engine"), *extra]


def test_fractions_keep_nested_prefixes_of_the_tasks_episodes(tmp_path: Path):
    eps = task_episodes(tiny_dataset(tmp_path / "ds", 8), "pick_place_toy")
    assert eps.ids == [f"episode_{i:05d}" for i in (0, 1, 3, 4, 5, 6, 7, 8)]  # the close_lid one is left out
    assert [subset_size(f, 8) for f in (0.25, 0.5, 1.0)] == [2, 4, 8]
    assert [subset_size(f, 6) for f in (0.25, 0.5, 1.0)] == [2, 3, 6]  # ceil: 25% of 6 is 2, never 0
    ids = [subset_ids(write_subset(eps, f, tmp_path / str(f))) for f in (0.25, 0.5, 1.0)]
    assert ids[0] == ids[1][:2] and ids[1] == ids[2][:4] and ids[2] == eps.ids
    from being_h0_train.posttrain.data import load_episodes

    loaded = load_episodes(tmp_path / "0.5")  # a subset is a dataset the post-training reads as it is
    assert [e.instruction for e in loaded.episodes] == [TOY] * 4 and {e.task_id for e in loaded.episodes} == {
        "pick_place_toy"}
    for bad in (0.0, 1.5):
        with pytest.raises(StageFailed, match="not in"):
            subset_size(bad, 8)
    with pytest.raises(StageFailed, match="no episode of task 'pour_cup'.*close_lid"):
        task_episodes(tmp_path / "ds", "pour_cup")


def test_bench_seeds_that_share_a_scene_with_a_demo_are_refused(tmp_path: Path):
    ap = de._parser()
    a = ap.parse_args(["--base-seed", "990", "--trials", "20"])
    with pytest.raises(StageFailed, match="scene seeds of the demos"):
        de.check_bench_seeds(a, set(range(1000, 1400)))
    de.check_bench_seeds(ap.parse_args([]), set(range(1000, 1400)))  # default 100..119: clear


def test_cells_of_both_arms_resume_after_a_cut_and_reuse_finished_ones(tmp_path: Path, monkeypatch, capsys):
    data = tiny_dataset(tmp_path / "ds", 4)
    args = tiny_args(tmp_path, data, "--fractions", "0.5", "1.0", "--trials", "0")
    real_post_train, calls = dataeff_stages.post_train, []

    def cut_in_second_cell(*a, **k):  # as if the run were killed while the second cell trains
        calls.append(a[1].name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_post_train(*a, **k)

    monkeypatch.setattr(dataeff_stages, "post_train", cut_in_second_cell)
    with pytest.raises(KeyboardInterrupt):
        de.main(args)
    work = tmp_path / "work"
    first = work / "cells" / "with_050"
    assert (first / "engine" / "manifest.json").exists() and not (work / "cells" / "with_100" / "engine").exists()
    pretrained = (work / "pretrain" / "pretrain.json").stat().st_mtime_ns
    trained = (first / "posttrain" / "final" / "heads.safetensors").stat().st_mtime_ns
    exported = (first / "engine" / "manifest.json").stat().st_mtime_ns
    took = json.loads((work / "timings.json").read_text())
    assert took["pretrain_s"] > 0 and took["with_050/posttrain_s"] > 0 and "with_100/posttrain_s" not in took
    monkeypatch.setattr(dataeff_stages, "post_train", real_post_train)
    capsys.readouterr()
    assert de.main(args) == 0
    out = capsys.readouterr().out
    assert f"reusing {work / 'pretrain'}" in out and f"reusing {first / 'posttrain' / 'final'}" in out
    assert (work / "pretrain" / "pretrain.json").stat().st_mtime_ns == pretrained  # pretrained once, shared
    assert (first / "posttrain" / "final" / "heads.safetensors").stat().st_mtime_ns == trained
    assert (first / "engine" / "manifest.json").stat().st_mtime_ns == exported
    # each arm started from its own backbone: the pretrained checkpoint or the preset
    backbones = {c: json.loads((work / "cells" / c / "posttrain" / "stage.json").read_text())["backbone"]
                 for c in ("with_050", "with_100", "without_050", "without_100")}
    assert backbones["with_050"] == backbones["with_100"] and "start" in backbones["with_050"]
    assert backbones["without_050"] == {"preset": "tiny", "init_seed": 0}
    # each cell trained on its own nested subset, all of it (no held-out episode)
    trained_on = {c: json.loads((work / "cells" / c / "posttrain" / "final" / "training.json").read_text())
                  ["train_episodes"] for c in backbones}
    assert len(trained_on["with_050"]) == 2 and trained_on["with_050"] == trained_on["with_100"][:2]
    assert trained_on["without_100"] == trained_on["with_100"] and len(trained_on["with_100"]) == 4
    table = json.loads((tmp_path / "engine" / "data_efficiency" / "data_efficiency.json").read_text())
    assert table["settings"]["timings_s"]["with_050/posttrain_s"] == took["with_050/posttrain_s"]  # when it ran
    assert table["settings"]["timings_s"]["with_100/export_s"] > 0
    assert [(c["arm"], c["fraction"], c["episodes"]) for c in table["cells"]] == [
        ("with", 0.5, 2), ("with", 1.0, 4), ("without", 0.5, 2), ("without", 1.0, 4)]
    assert "not run" in (tmp_path / "engine" / "data_efficiency" / "data_efficiency.md").read_text()
    # other post-training settings in the same work folder: refused, not mixed with the finished cells
    assert de.main([*args, "--lr", "1e-3"]) == 2
    assert "made with other settings" in capsys.readouterr().err


def test_table_and_plot_carry_wilson_intervals(tmp_path: Path):
    cells = [Cell("with", 0.25, 5, 3, 20), Cell("with", 1.0, 20, 20, 20),
             Cell("without", 0.25, 5, 0, 20), Cell("without", 1.0, 20, 17, 20)]
    files = write_report(cells, {"task": "pick_place_toy", "variation": "seen", "base_seed": 100}, "cmd",
                         tmp_path / "de")
    assert [p.name for p in files] == ["data_efficiency.md", "data_efficiency.json", "data_efficiency.png"]
    assert (tmp_path / "de" / "data_efficiency.png").read_bytes()[:4] == b"\x89PNG"
    by = {(c["arm"], c["fraction"]): c for c in json.loads(files[1].read_text())["cells"]}
    # Wilson 95% score interval, z = 1.96: 17/20 -> [0.640, 0.948]; 3/20 -> [0.052, 0.360]; ends exact
    assert by[("without", 1.0)]["ci95_low"] == pytest.approx(0.6396, abs=1e-4)
    assert by[("without", 1.0)]["ci95_high"] == pytest.approx(0.9476, abs=1e-4)
    assert by[("with", 0.25)]["ci95_low"] == pytest.approx(0.0524, abs=1e-4)
    assert by[("with", 0.25)]["ci95_high"] == pytest.approx(0.3604, abs=1e-4)
    assert (by[("without", 0.25)]["ci95_low"], by[("with", 1.0)]["ci95_high"]) == (0.0, 1.0)
    assert by[("with", 1.0)]["ci95_low"] == pytest.approx(0.8389, abs=1e-4)
    md = markdown(cells, {"task": "pick_place_toy", "variation": "seen"}, "cmd")
    assert "| without (post-training only) | 0/20 = 0.00 [0.00, 0.16] | 17/20 = 0.85 [0.64, 0.95] |" in md
    assert "25% (5 demos)" in md and "- 25%: +0.15" in md


def test_a_cell_is_benchmarked_on_the_virtual_rig_and_its_result_reused(tmp_path: Path, capsys):
    """The bench stage for real: one trial of the tiny engine on the sim (it fails: 1 training step)."""
    data = tiny_dataset(tmp_path / "ds", 2)
    args = tiny_args(tmp_path, data, "--arms", "without", "--fractions", "1.0", "--trials", "1",
                     "--time-limit", "1", "--base-seed", "7")
    assert de.main(args) == 0
    result = json.loads((tmp_path / "work" / "cells" / "without_100" / "bench" / "result.json").read_text())
    assert (result["trials"], result["base_seed"], result["variation"]) == (1, 7, "seen")
    cells = json.loads((tmp_path / "engine" / "data_efficiency" / "data_efficiency.json").read_text())["cells"]
    assert cells[0]["trials"] == 1 and cells[0]["successes"] == result["successes"]
    assert (tmp_path / "engine" / "data_efficiency" / "data_efficiency.png").exists()
    db = tmp_path / "work" / "cells" / "without_100" / "bench" / "bench.sqlite"
    stamp = db.stat().st_mtime_ns
    capsys.readouterr()
    assert de.main(args) == 0  # everything reused: no second bench run
    assert db.stat().st_mtime_ns == stamp
    assert f"without_100: {result['successes']}/1 successes" in capsys.readouterr().out


def test_missing_inputs_fail_with_one_clear_line_before_any_stage(tmp_path: Path, capsys):
    data = tiny_dataset(tmp_path / "ds", 2)
    assert de.main(tiny_args(tmp_path, tmp_path / "nothing", "--trials", "0")) == 2
    assert "no meta.json (recorder export) or dataset.json" in capsys.readouterr().err
    args = tiny_args(tmp_path, data, "--trials", "0")
    assert de.main([*args, "--warmup", str(tmp_path / "no_warmup")]) == 2
    assert "no finished vision warm-up there" in capsys.readouterr().err
    assert de.main([*args, "--fractions", "0.5", "2"]) == 2
    assert "2.0 is not in (0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "work" / "cells").exists()


def test_pretraining_resumes_from_its_checkpoint_and_the_tokenizer_it_trained(tmp_path: Path):
    a = de._parser().parse_args(tiny_args(tmp_path, tmp_path, "--pretrain-steps", "2", "--save-every", "1"))
    work = tmp_path / "work"
    start, fp = dataeff_stages.start_backbone(a, work, tmp_path, "pick_place_toy")
    backbone, _ = dataeff_stages.pretrain(a, work, start, fp)
    first = json.loads((work / "pretrain" / "pretrain.json").read_text())
    assert first["start_step"] == 0 and Path(backbone, "being_h0_config.json").exists()
    tokenizer = (work / "pretrain" / "motion_tokenizer" / "tokenizer_config.json").stat().st_mtime_ns
    (work / "pretrain" / "pretrain.json").unlink()  # killed after its last checkpoint, before it was marked done
    dataeff_stages.pretrain(a, work, start, fp)
    again = json.loads((work / "pretrain" / "pretrain.json").read_text())
    assert again["start_step"] == 2  # resumed from the checkpoint: no step trained twice
    assert (work / "pretrain" / "motion_tokenizer" / "tokenizer_config.json").stat().st_mtime_ns == tokenizer  # not retrained
