"""Post-training on several tasks: each episode's own instruction words, balanced batches, resume after SIGTERM."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from being_h0_runtime.policy.models.posttrain import build_posttrain_model
from being_h0_runtime.policy.models.posttrain_config import PostTrainConfig
from being_h0_train.posttrain.data import (
    Episode,
    EpisodeSet,
    WindowDataset,
    compute_stats,
    synthetic_episodes,
)
from being_h0_train.posttrain.tasks import (
    TaskBalancedSampler,
    read_instructions,
    write_instructions,
)
from being_h0_train.posttrain.train import TrainSettings, make_preprocessors, train

NAMES = tuple(f"j{i}" for i in range(5))
TABLE = {"lid": ["close the lid", "shut the lid of the box", "put the lid down"], "toy": ["pick up the toy"]}


def small_cfg(**kw) -> PostTrainConfig:
    base = {"backbone": "tiny", "action_names": NAMES, "proprio_names": NAMES, "chunk_len": 4, "head_hidden": 32,
            "proprio_hidden": 32, "max_tiles": 1}
    return PostTrainConfig(**{**base, **kw})


def two_task_set(lengths: dict[str, list[int]]) -> EpisodeSet:
    eps = []
    for task, lens in lengths.items():
        for k, n in enumerate(lens):
            e = synthetic_episodes(1, n, NAMES, (24, 32), seed=len(eps)).episodes[0]
            eps.append(Episode(e.images, e.proprio, e.actions, TABLE[task][0], f"{task}_{k}", task_id=task))
    return EpisodeSet(eps, list(NAMES), list(NAMES))


def test_every_window_is_trained_with_a_phrasing_of_its_own_task():
    eset = two_task_set({"lid": [6, 6], "toy": [6]})
    model = build_posttrain_model(small_cfg(), compute_stats(eset.episodes))
    tiles, prompt = make_preprocessors(model)
    ds = WindowDataset(eset.episodes, 4, tiles, prompt, compute_stats(eset.episodes), instructions=TABLE)
    ids_of = {task: {tuple(prompt(w)[0]) for w in words} for task, words in TABLE.items()}
    assert len(ids_of["lid"]) == 3  # the phrasings tokenise differently
    seen: dict[str, set[tuple[int, ...]]] = {"lid": set(), "toy": set()}
    rng = np.random.default_rng(0)
    for _ in range(8):
        for i, (e, _t) in enumerate(ds.index):
            task = ds.episodes[e].task_id
            ids = tuple(ds.get(i, rng)["input_ids"])
            assert ids in ids_of[task], f"window {i} of a {task} episode got another task's words"
            seen[task].add(ids)
    assert seen["lid"] == ids_of["lid"]  # every phrasing is used
    # evaluation (no generator): the task's first phrasing, the one demos are recorded with
    assert tuple(ds.get(0)["input_ids"]) == tuple(prompt(TABLE["lid"][0])[0])
    # a batch keeps the pairing after padding to the longest instruction
    b = ds.batch(range(len(ds)), rng)
    for row, (e, _t) in enumerate(ds.index):
        n = int(b["text_mask"][row].sum())
        assert tuple(b["input_ids"][row, :n].tolist()) in ids_of[ds.episodes[e].task_id]


def test_batches_are_balanced_over_tasks_and_single_task_draws_are_unchanged():
    eset = two_task_set({"lid": [30, 30, 30], "toy": [5]})  # toy: 5 of 95 windows
    model = build_posttrain_model(small_cfg(), compute_stats(eset.episodes))
    tiles, prompt = make_preprocessors(model)
    ds = WindowDataset(eset.episodes, 4, tiles, prompt, compute_stats(eset.episodes))
    idx = TaskBalancedSampler(ds).draw(np.random.default_rng(1), 4000)
    toy = np.mean([ds.episodes[ds.index[i][0]].task_id == "toy" for i in idx])
    assert 0.45 < toy < 0.55
    one = WindowDataset(eset.episodes[:3], 4, tiles, prompt, compute_stats(eset.episodes))
    np.testing.assert_array_equal(TaskBalancedSampler(one).draw(np.random.default_rng([0, 7]), 16),
                                  np.random.default_rng([0, 7]).integers(0, len(one), size=16))


def test_instruction_table_round_trips_and_bad_files_name_the_key(tmp_path: Path):
    path = write_instructions(TABLE, tmp_path / "instructions.json")
    assert read_instructions(path) == TABLE
    (tmp_path / "bad.json").write_text('{"lid": []}')
    with pytest.raises(ValueError, match="'lid'"):
        read_instructions(tmp_path / "bad.json")


def _weights(out: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(str(out / "checkpoints" / f"step_{step:07d}" / "trainable.safetensors"))


def test_sigterm_mid_run_checkpoints_and_the_resumed_run_lands_on_the_same_weights(tmp_path: Path):
    eset = two_task_set({"lid": [8, 8], "toy": [8]})
    s = TrainSettings(steps=8, batch_size=2, lr=3e-3, seed=5, val_fraction=0, save_every=2, augment=False)
    cfg = small_cfg(train_mode="full")
    straight = train(cfg, eset, tmp_path / "a", s, progress=False, instructions=TABLE)
    assert "interrupted" not in straight

    cut = tmp_path / "b"

    def kill_after_first_checkpoint() -> None:  # SIGTERM at whatever step the loop is on by then
        deadline = time.monotonic() + 120
        while not (cut / "checkpoints" / "step_0000002").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=kill_after_first_checkpoint, daemon=True).start()
    first = train(cfg, eset, cut, s, progress=False, instructions=TABLE)
    assert first["interrupted"] == signal.SIGTERM and first["exit_code"] == 143
    k = first["stopped_at"]
    assert 2 <= k < 8 and (cut / "checkpoints" / f"step_{k:07d}" / "rng.pt").exists()
    assert not (cut / "final").exists()
    resumed = train(cfg, eset, cut, s, resume=True, progress=False, instructions=TABLE)
    assert resumed["start_step"] == k and (cut / "final").is_dir()
    a, b = _weights(tmp_path / "a", 8), _weights(cut, 8)
    assert a.keys() == b.keys()
    for name in a:  # bit for bit: same ops, same order, same data
        assert torch.equal(a[name], b[name]), name
    # only the newest checkpoints stay
    assert len(list((cut / "checkpoints").glob("step_*"))) == 2
