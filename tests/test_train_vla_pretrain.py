"""Physical instruction tuning: tiling, templates, validity, training loop (1 and 2 processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

torch.set_num_threads(1)  # shared 2-core box

from being_h0_train.motion.mano import default_mano  # noqa: E402
from being_h0_train.vla import build_being_h0  # noqa: E402
from being_h0_train.vla.data import SampleBuilder, collate_prompts, collate_train, prepare_motion_samples  # noqa: E402
from being_h0_train.vla.evaluate import evaluate_generation, parse_motion_block, score_motion  # noqa: E402
from being_h0_train.vla.image import choose_grid, tile_image  # noqa: E402
from being_h0_train.vla.templates import TASKS  # noqa: E402
from being_h0_train.vla.train import TrainConfig, load_clips, train  # noqa: E402
from being_h0_train.tokenizer.model import MotionTokenizer  # noqa: E402


def test_dynamic_tiling_grid_and_thumbnail():
    assert choose_grid(896, 448, 448, max_tiles=6) == (2, 1)
    assert choose_grid(448, 1344, 448, max_tiles=6) == (1, 3)
    assert choose_grid(500, 500, 448, max_tiles=6) == (1, 1)
    assert choose_grid(1000, 1000, 448, max_tiles=6) == (2, 2)  # tie on ratio: larger grid for a big image
    img = np.random.default_rng(0).integers(0, 255, (100, 230, 3), dtype=np.uint8)
    tiles = tile_image(img, 112, max_tiles=6)
    assert tiles.shape == (2 * 1 + 1, 112, 112, 3)  # 2x1 grid + thumbnail
    one = tile_image(img[:, :100], 112, max_tiles=6)
    assert one.shape == (1, 112, 112, 3)  # single tile: no thumbnail


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One short single-process run shared by the tests below (trains the tiny motion tokenizer too)."""
    out = tmp_path_factory.mktemp("vla")
    cfg = TrainConfig(synthetic=10, steps=40, batch=4, lr=2e-3, warmup=5, out=str(out), log_every=10,
                      eval_samples=2, tokenizer_steps=60, ckpt_every=20)
    summary = train(cfg)
    return out, cfg, summary


def test_loss_falls_and_outputs_written(run_dir):
    out, _, summary = run_dir
    losses = summary["losses"]
    assert len(losses) == 40 and all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.5, (losses[:5], losses[-5:])
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert log[0]["step"] == 1 and log[-1]["step"] == 40
    state = json.loads((out / "checkpoint" / "trainer_state.json").read_text())
    assert state["step"] == 40
    ev = json.loads((out / "eval.json").read_text())
    assert ev["n"] >= 1 and 0.0 <= ev["valid_rate"] <= 1.0


def test_resume_continues_from_checkpoint(run_dir):
    out, cfg, summary = run_dir
    from dataclasses import replace

    s2 = train(replace(cfg, steps=44, resume=True, eval_samples=0))
    assert s2["start_step"] == 40 and len(s2["losses"]) == 4
    assert abs(s2["losses"][0] - summary["losses"][-1]) < 1.5  # continues, does not restart from scratch (~6.7)
    assert json.loads((out / "checkpoint" / "trainer_state.json").read_text())["step"] == 44


def test_sigterm_saves_the_exact_step_and_resume_finishes(run_dir, tmp_path):
    """A scheduler's SIGTERM mid-run: the loop finishes its step, checkpoints there and returns; --resume goes on."""
    import threading
    import time
    from dataclasses import replace

    _, cfg, _ = run_dir
    out = tmp_path / "cut"
    cut = replace(cfg, out=str(out), steps=400, log_every=1, eval_samples=0, ckpt_every=0)
    log = out / "log.jsonl"

    def kill_after_three_steps() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if log.exists() and len(log.read_text().splitlines()) >= 3:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_after_three_steps, daemon=True)
    killer.start()
    s1 = train(cut)
    killer.join()
    assert s1["signal"] == signal.SIGTERM and 3 <= s1["stopped_at"] < 400
    assert len(s1["losses"]) == s1["stopped_at"]
    state = json.loads((out / "checkpoint" / "trainer_state.json").read_text())
    assert state["step"] == s1["stopped_at"]  # the exact step, not the last periodic checkpoint (there is none)
    s2 = train(replace(cut, steps=s1["stopped_at"] + 2, resume=True))
    assert s2["start_step"] == s1["stopped_at"] and "stopped_at" not in s2 and len(s2["losses"]) == 2


def test_samples_templates_validity_and_scoring(run_dir):
    out, cfg, _ = run_dir
    motion_tok = MotionTokenizer.load(out / "motion_tokenizer")
    model = build_being_h0("tiny")
    clips = load_clips(TrainConfig(synthetic=2, seed=5))
    samples = prepare_motion_samples(clips, motion_tok, 32)
    s = samples[0]
    per_step = motion_tok.cfg.tokens_per_step
    assert len(s.motion_codes) == 32 // motion_tok.cfg.downsample * per_step
    tm = model.token_map
    b = SampleBuilder(model, per_step)
    rng = np.random.default_rng(0)
    items = [b.build(s, t, rng) for t in TASKS]
    for it, task in zip(items, TASKS):
        ids, labels = it["input_ids"].tolist(), it["labels"].tolist()
        n_ctx = ids.count(tm.img_context_id)
        assert n_ctx == it["pixel_values"].shape[0] * model.num_image_tokens
        resp = [t for t, l in zip(ids, labels) if l != -100]
        assert resp == [t for t in labels if t != -100]
        assert labels[: ids.index(tm.img_end_id) + 1] == [-100] * (ids.index(tm.img_end_id) + 1)
        text = model.tokenizer.decode(resp)
        if task == "motion_translation":
            assert s.instruction in text and tm.mot_start_id not in resp
            assert ids.count(tm.mot_start_id) == 1  # motion is in the prompt
        else:
            assert resp[0] == tm.mot_start_id and resp[-2] == tm.mot_end_id
            assert parse_motion_block(resp, tm, motion_tok).valid
        if task == "motion_prediction":
            hist = ids[ids.index(tm.mot_start_id) + 1: ids.index(tm.mot_end_id)]
            fut = parse_motion_block(resp, tm, motion_tok).codes
            assert tm.token_to_motion_ids(hist) + fut == s.motion_codes
    batch = collate_train(items, tm.pad_id)
    assert batch["input_ids"].shape[0] == 3 and batch["pixel_values"].shape[0] == sum(i["pixel_values"].shape[0] for i in items)
    out_ = model(batch["input_ids"], batch["pixel_values"], batch["attention_mask"], batch["labels"])
    assert torch.isfinite(out_.loss)
    p = collate_prompts([b.build_prompt(x) for x in samples[:2]], tm.pad_id)
    assert (p["attention_mask"][:, -1] == 1).all()
    # validity checks
    gt = tm.motion_to_token_ids(s.motion_codes)
    assert parse_motion_block(gt + [tm.mot_end_id], tm, motion_tok).valid
    assert parse_motion_block(gt, tm, motion_tok).reason == "no </MOT>"
    assert not parse_motion_block(gt[:-1] + [tm.mot_end_id], tm, motion_tok).valid  # ragged
    assert not parse_motion_block(gt[:3] + [65] + gt[4:] + [tm.mot_end_id], tm, motion_tok).valid  # text inside
    swapped = [gt[per_step - 1]] + gt[1:]  # a fingers id in the wrist slot
    assert not parse_motion_block(swapped + [tm.mot_end_id], tm, motion_tok).valid
    # scoring: ground-truth codes reconstruct well; random codes do not
    good = score_motion(s.motion_codes, s, motion_tok, default_mano())
    rand = motion_tok.ids_to_codes(torch.tensor([s.motion_codes]))
    rand = torch.randint_like(rand, 0, motion_tok.cfg.codebook_size)
    bad = score_motion(motion_tok.codes_to_ids(rand)[0].tolist(), s, motion_tok, default_mano())
    assert good["mpjpe_mm"] < bad["mpjpe_mm"]
    ev = evaluate_generation(model, motion_tok, samples[:2], constrained=True)
    assert ev["n"] == 2 and set(ev) >= {"valid_rate", "mpjpe_mm", "pa_mpjpe_mm", "mwte_mm"}
    # slot-constrained decoding always yields valid blocks, even from an untrained model
    ev = evaluate_generation(model, motion_tok, samples[:2], constrained="slots")
    assert ev["valid_rate"] == 1.0 and np.isfinite(ev["mpjpe_mm"])


def test_torchrun_two_processes_fsdp_gloo(run_dir, tmp_path):
    out, _, _ = run_dir
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "being_h0_train.vla.train",
           "--synthetic", "6", "--steps", "4", "--batch", "2", "--out", str(tmp_path / "ddp"), "--threads", "1",
           "--motion-tokenizer", str(out / "motion_tokenizer"), "--log-every", "1", "--eval-samples", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # launcher and both workers: never leave orphans behind
        stdout, stderr = proc.communicate()
        pytest.fail("torchrun timed out: " + stderr[-2000:])
    assert proc.returncode == 0, stdout[-2000:] + stderr[-3000:]
    assert "world=2" in stdout
    log = [json.loads(line) for line in (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [1, 2, 3, 4] and all(np.isfinite(e["loss"]) for e in log)
    from being_h0_train.vla import BeingH0Model

    m = BeingH0Model.from_pretrained(tmp_path / "ddp" / "checkpoint")  # full (unsharded) weights saved
    assert m.token_map.num_motion_tokens == 512


def test_bf16_and_gradient_checkpointing_steps(run_dir):
    out, _, _ = run_dir
    s = train(TrainConfig(synthetic=3, steps=3, batch=2, precision="bf16", grad_ckpt=True, eval_samples=0,
                          motion_tokenizer=str(out / "motion_tokenizer")))
    assert len(s["losses"]) == 3 and all(np.isfinite(s["losses"]))
    with pytest.raises(ValueError, match="precision"):
        train(TrainConfig(synthetic=3, steps=1, batch=1, precision="fp8", eval_samples=0,
                          motion_tokenizer=str(out / "motion_tokenizer")))
