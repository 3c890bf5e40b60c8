"""`make train-default` settings: recipes, the task list with demo counts, stage fingerprints, bench cells."""

from __future__ import annotations

from pathlib import Path

import pytest

from being_h0_train.pipeline.recipes import (
    RECIPES,
    StageFailed,
    check_stage,
    parse_tasks,
)
from being_h0_train.pipeline.train_default import _parser, bench_cells, resolve


def test_task_list_takes_per_task_counts_and_names_bad_items():
    assert parse_tasks("pick_place_toy:400, close_lid ,pour_cup:3", 50) == {
        "pick_place_toy": 400, "close_lid": 50, "pour_cup": 3}
    for bad, why in (("pick_place_toy:unseen", "number of demos"), ("close_lid:0", ">= 1"),
                     ("close_lid,close_lid", "twice"), ("fold_laundry", "no task named"), ("", "no task")):
        with pytest.raises(StageFailed, match=why):
            parse_tasks(bad, 5)


def test_recipes_fill_only_what_the_command_line_left_out():
    single = resolve(_parser().parse_args([]))
    assert single.task_counts == {"pick_place_toy": 460} and single.instructions == "recorded"
    assert single.engine_dir.endswith("being-h0-sim-small") and single.steps == 10000
    multi = resolve(_parser().parse_args(["--recipe", "multitask", "--steps", "7", "--episodes", "9",
                                          "--tasks", "close_lid,pour_cup:4"]))
    assert multi.task_counts == {"close_lid": 9, "pour_cup": 4} and multi.steps == 7
    assert multi.instructions == "paraphrases" and multi.work == RECIPES["multitask"]["work"]
    assert "unfold_clothes" not in RECIPES["multitask"]["tasks"]
    with pytest.raises(StageFailed, match="overlaps the benchmark"):
        resolve(_parser().parse_args(["--demo-seed-base", "5", "--trials", "20"]))


def test_every_task_is_benchmarked_in_each_of_its_variations():
    cells = bench_cells(["pick_place_toy", "close_lid", "pour_cup"], ["seen", "unseen", "clutter"])
    assert cells == ["pick_place_toy:seen", "pick_place_toy:unseen", "pick_place_toy:clutter",
                     "close_lid:seen", "close_lid:unseen", "pour_cup:seen", "pour_cup:unseen"]
    assert bench_cells(["close_lid"], ["clutter"]) == []


def test_a_stage_folder_made_with_other_settings_is_refused(tmp_path: Path):
    stage = tmp_path / "posttrain"
    check_stage(stage, {"tasks": {"pick_place_toy": 460}, "steps": 10})
    check_stage(stage, {"tasks": {"pick_place_toy": 460}, "steps": 10})  # same settings: carry on
    with pytest.raises(StageFailed, match=r"tasks: .*pick_place_toy.* then, .*close_lid.* now"):
        check_stage(stage, {"tasks": {"pick_place_toy": 460, "close_lid": 200}, "steps": 10})


def test_the_warm_up_fingerprint_names_a_seen_fraction_only_where_it_changes_the_layouts():
    from being_h0_train.pipeline.train_default import warmup_fingerprint
    from being_h0_train.posttrain.perception import WarmUpSettings

    single = resolve(_parser().parse_args([]))
    s = WarmUpSettings(samples=10, steps=2, variation="seen", seen_fraction=single.warmup_seen_fraction)
    assert "seen_fraction" not in warmup_fingerprint(single, s)  # folders made before the option stay valid
    multi = resolve(_parser().parse_args(["--recipe", "multitask"]))
    assert multi.warmup_seen_fraction == 0.5
    s = WarmUpSettings(samples=10, steps=2, variation="train", seen_fraction=multi.warmup_seen_fraction)
    assert warmup_fingerprint(multi, s)["seen_fraction"] == 0.5
    assert "seen_fraction" not in warmup_fingerprint(
        multi, WarmUpSettings(samples=10, steps=2, variation="train", seen_fraction=0.0))


def test_a_seen_fraction_outside_its_range_is_refused_before_any_stage_runs():
    for bad in (["--warmup-seen-fraction", "1.0"], ["--warmup-seen-fraction", "-0.1"],
                ["--warmup-seen-first-steps", "-5"]):
        with pytest.raises(StageFailed, match="warmup-seen") as e:
            resolve(_parser().parse_args(["--recipe", "multitask", *bad]))
        assert e.value.code == 2
