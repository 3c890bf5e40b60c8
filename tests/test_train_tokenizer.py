"""GRQ motion tokenizer: quantiser, ids, overfit, checkpoint/resume, metrics, CLIs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from being_h0_train.tokenizer import GRQConfig, GroupedResidualVQ, MotionTokenizer, evaluate, train_tokenizer
from being_h0_train.tokenizer.data import load_or_generate
from being_h0_train.tokenizer.metrics import codebook_stats, mpjpe, pa_mpjpe, procrustes_align

torch.set_num_threads(1)  # the CI box is shared; multi-thread spin-waits are 10x slower here


@pytest.fixture(scope="module")
def clips():
    return load_or_generate(None, 2, seed=0, num_frames=32)


def test_grq_residual_reduces_error_and_ema_tracks_data():
    torch.manual_seed(0)
    q = GroupedResidualVQ(dim=8, num_groups=2, num_residual=4, codebook_size=16)
    q.train()
    x = torch.randn(4, 16, 8)
    for _ in range(20):
        q(x)
    q.eval()
    errs = []
    for r in range(1, 5):
        zq, codes, _ = q(x, num_residual=r)
        errs.append(float((zq - x).pow(2).mean()))
        assert codes.shape == (4, 16, 2, r)
    assert all(b <= a + 1e-6 for a, b in zip(errs, errs[1:])), errs
    assert errs[-1] < 0.5 * errs[0]
    zq, codes, _ = q(x)
    assert torch.allclose(q.decode_codes(codes), zq, atol=1e-5)
    # straight-through gradient reaches the input
    xg = x.clone().requires_grad_(True)
    q(xg)[0].sum().backward()
    assert torch.allclose(xg.grad, torch.ones_like(xg))


def test_dead_codes_are_restarted():
    torch.manual_seed(0)
    q = GroupedResidualVQ(dim=4, num_groups=1, num_residual=1, codebook_size=32, decay=0.5, dead_threshold=0.05)
    q.train()
    x = torch.randn(2, 64, 4) + 10.0  # far from the init: most codes unused at first
    q(x)
    q.books[0].embed.add_(100.0)  # kill every code
    for _ in range(5):
        q(x)
    _, codes, _ = q(x)
    assert len(torch.unique(codes)) > 8  # restarted codes are in use again


def test_token_ids_roundtrip_and_layout():
    cfg = GRQConfig.preset("tiny", shared_codebook=False)
    tok = MotionTokenizer(cfg)
    assert cfg.num_token_ids == 2 * 2 * 2 * 128
    codes = torch.randint(0, 128, (3, 5, 2, 2, 2))
    ids = tok.codes_to_ids(codes)
    assert ids.shape == (3, 5 * cfg.tokens_per_step)
    assert int(ids.max()) < cfg.num_token_ids
    assert torch.equal(tok.ids_to_codes(ids), codes)
    # first token of a step is wrist g0 r0, fifth is fingers g0 r0
    assert int(ids[0, 0]) == int(codes[0, 0, 0, 0, 0])
    assert int(ids[0, 4]) == 4 * 128 + int(codes[0, 0, 1, 0, 0])
    bad = ids.clone()
    bad[0, 0] = 4 * 128  # a fingers id in the wrist slot
    with pytest.raises(ValueError, match="out of place"):
        tok.ids_to_codes(bad)
    with pytest.raises(ValueError, match="multiple"):
        tok.ids_to_codes(ids[:, :-1])
    with pytest.raises(ValueError, match="D99"):
        tok(torch.zeros(1, 8, 50))
    assert GRQConfig().num_token_ids == 2 * 2 * 4096  # paper default, shared over residual stages


def test_overfit_two_clips_reaches_stated_error(clips, tmp_path):
    """Stated target: tiny tokenizer, 2 clips, 100 steps -> MPJPE < 15 mm, PA-MPJPE < 3 mm."""
    cfg = GRQConfig.preset("tiny")
    untrained = MotionTokenizer(cfg)
    from being_h0_train.tokenizer.train import prepare
    from being_h0_train.motion.mano import default_mano

    feats, _ = prepare(clips, untrained, default_mano())
    untrained.set_normalizer(np.concatenate(feats))
    before = evaluate(untrained, clips)
    tok, rep = train_tokenizer(cfg, clips, tmp_path / "run", steps=100, batch=4, window=32, progress=False, ckpt_every=50)
    after = rep["train"]
    assert after["mpjpe_mm"] < 15.0 and after["pa_mpjpe_mm"] < 3.0, after
    assert after["mpjpe_mm"] < 0.5 * before["mpjpe_mm"], (before, after)
    # checkpoint reloads to the same reconstruction; eval report written
    loaded = MotionTokenizer.load(tmp_path / "run" / "checkpoint")
    x = torch.as_tensor(feats[0][None], dtype=torch.float32)
    assert torch.equal(loaded.encode(x), tok.encode(x))
    assert torch.allclose(loaded.ids_to_features(loaded.features_to_ids(x)), tok.decode(tok.encode(x)), atol=1e-5)
    report = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert report["train"]["mpjpe_mm"] == pytest.approx(after["mpjpe_mm"])
    # resume continues from step 100 to 110 (optimizer state restored)
    tok2, rep2 = train_tokenizer(cfg, clips, tmp_path / "run", steps=110, batch=4, window=32, progress=False, resume=True)
    assert json.loads((tmp_path / "run" / "checkpoint" / "tokenizer_config.json").read_text())["step"] == 110
    assert rep2["train"]["mpjpe_mm"] < 20.0


def test_metrics_known_values():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(5, 21, 3))
    assert mpjpe(gt + [0.01, 0, 0], gt) == pytest.approx(10.0)
    r = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    r *= np.sign(np.linalg.det(r))
    pred = 1.3 * gt @ r.T + 0.5
    assert pa_mpjpe(pred, gt) < 1e-6
    assert np.allclose(procrustes_align(pred, gt), gt)
    s = codebook_stats(np.array([[[[0, 1]]], [[[2, 3]]]]), codebook_size=8)
    assert s["codebook_usage"] == pytest.approx(0.5) and s["perplexity"] == pytest.approx(4.0)  # stages share a book


def test_ablation_cli_help_and_tiny_run():
    h = subprocess.run([sys.executable, "-m", "being_h0_train.tokenizer.ablation", "--help"], capture_output=True, text=True, timeout=60)
    assert h.returncode == 0 and "part-level" in h.stdout and "--layouts" in h.stdout
    from being_h0_train.tokenizer.ablation import run

    rows = run(["D51", "D162"], ["part", "whole"], steps=5, clips=6, preset="tiny", seed=0, batch=2, window=16)
    assert [(r["layout"], r["mode"]) for r in rows] == [("D51", "part"), ("D51", "whole"), ("D162", "part"), ("D162", "whole")]
    assert all(np.isfinite(r["mpjpe_mm"]) for r in rows)
