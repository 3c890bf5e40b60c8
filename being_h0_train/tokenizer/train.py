"""Train the part-level GRQ motion tokenizer.

Examples::

    # tiny model on 64 generated clips, 300 steps, checkpoints in runs/tok
    python -m being_h0_train.tokenizer.train --synthetic 64 --preset tiny --steps 300 --out runs/tok

    # your own canonical clips (npz + json), D162 features, your MANO file
    python -m being_h0_train.tokenizer.train --data-dir clips/ --layout D162 --mano MANO_RIGHT.pkl \\
        --preset full --steps 100000 --batch 256 --out runs/tok_full

    # resume from the last checkpoint in --out
    python -m being_h0_train.tokenizer.train ... --out runs/tok --resume

Checkpoints: ``<out>/checkpoint/`` holds ``tokenizer.safetensors`` +
``tokenizer_config.json`` (loadable with ``MotionTokenizer.load``) and
``trainer_state.pt`` (optimizer, step, RNG). ``<out>/eval.json`` is the
evaluation report (MPJPE, PA-MPJPE, MWTE in mm, codebook usage, perplexity).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ..common import cosine_lr, replace_dir
from ..motion.clip import Clip
from ..motion.mano import ManoLayer, default_mano
from .data import WindowDataset, clip_features, load_or_generate
from .metrics import codebook_stats, features_to_joints, mpjpe, mwte, pa_mpjpe
from .model import GRQConfig, MotionTokenizer


def prepare(clips: list[Clip], tok: MotionTokenizer, mano: ManoLayer) -> tuple[list[np.ndarray], list[np.ndarray]]:
    feats, joints = [], []
    for c in clips:
        f, j = clip_features(c, tok.layout, mano)
        feats.append(f)
        joints.append(j)
    return feats, joints


@torch.no_grad()
def evaluate(tok: MotionTokenizer, clips: list[Clip], mano: ManoLayer | None = None) -> dict[str, float]:
    """Encode/decode whole clips and report joint-space errors (mm) and codebook stats."""
    mano = mano or default_mano()
    tok.eval()
    preds, gts, codes = [], [], []
    ds = tok.cfg.downsample
    for c in clips:
        f, j = clip_features(c, tok.layout, mano)
        t = (f.shape[0] // ds) * ds
        x = torch.as_tensor(f[:t], dtype=torch.float32)[None]
        cd = tok.encode(x)
        rec = tok.decode(cd)[0].double().numpy()
        preds.append(features_to_joints(rec, tok.layout, mano, betas=c.params.betas[0]))
        gts.append(j[:t])
        codes.append(cd[0].numpy())
    p, g = np.concatenate(preds), np.concatenate(gts)
    out = {"mpjpe_mm": mpjpe(p, g), "pa_mpjpe_mm": pa_mpjpe(p, g), "mwte_mm": mwte(p, g)}
    out.update(codebook_stats(np.concatenate(codes), tok.cfg.codebook_size))
    return out


def save_checkpoint(out: Path, tok: MotionTokenizer, opt: torch.optim.Optimizer, step: int, rng: np.random.Generator) -> None:
    with replace_dir(out / "checkpoint") as tmp:  # a crash never leaves a half-written checkpoint
        tok.save(tmp, extra={"step": step})
        torch.save({"optimizer": opt.state_dict(), "step": step, "rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state()}, tmp / "trainer_state.pt")


def train_tokenizer(cfg: GRQConfig, clips: list[Clip], out_dir: str | Path | None = None, steps: int = 300,
                    batch: int = 32, window: int = 32, lr: float = 2e-3, seed: int = 0, resume: bool = False,
                    eval_clips: list[Clip] | None = None, mano: ManoLayer | None = None, ckpt_every: int = 0,
                    progress: bool = True) -> tuple[MotionTokenizer, dict[str, Any]]:
    """Train on random windows of ``clips``; returns (tokenizer, report)."""
    mano = mano or default_mano()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tok = MotionTokenizer(cfg)
    feats, _ = prepare(clips, tok, mano)
    tok.set_normalizer(np.concatenate(feats))
    ds = WindowDataset(feats, window)
    opt = torch.optim.AdamW(tok.parameters(), lr=lr, weight_decay=1e-4)
    start = 0
    out = Path(out_dir) if out_dir else None
    if resume:
        if out is None or not (out / "checkpoint" / "trainer_state.pt").exists():
            raise FileNotFoundError(f"--resume: no checkpoint under {out}")
        from safetensors.torch import load_file

        tok.load_state_dict(load_file(str(out / "checkpoint" / "tokenizer.safetensors")))
        st = torch.load(out / "checkpoint" / "trainer_state.pt", weights_only=False)
        opt.load_state_dict(st["optimizer"])
        start = int(st["step"])
        rng.bit_generator.state = st["rng"]
        torch.set_rng_state(st["torch_rng"])
    def lr_at(s: int) -> float:  # 50-step linear warm-up on a cosine to 10%
        return cosine_lr(s, lr, steps, warmup_steps=50, floor=0.1)

    tok.train()
    history = []
    bar = tqdm(range(start, steps), desc=f"GRQ {cfg.layout}{' part' if cfg.part_level else ' hand'}", disable=not progress, mininterval=2.0)
    t0 = time.time()
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        x, _ = ds.sample(rng, batch)
        res = tok(x)
        opt.zero_grad(set_to_none=True)
        res["loss"].backward()
        torch.nn.utils.clip_grad_norm_(tok.parameters(), 1.0)
        opt.step()
        rec = float(res["recon_loss"])
        history.append(rec)
        if step % 10 == 0:
            bar.set_postfix(recon=f"{rec:.4f}", commit=f"{float(res['commit_loss']):.4f}", wrist=f"{float(res['wrist_loss']):.4f}")
        if out and ckpt_every and (step + 1) % ckpt_every == 0:
            save_checkpoint(out, tok, opt, step + 1, rng)
    tok.eval()
    report: dict[str, Any] = {"config": asdict(cfg), "steps": steps, "train_seconds": time.time() - t0,
                              "final_recon_loss": float(np.mean(history[-10:])) if history else None}
    report["train"] = evaluate(tok, clips[: max(1, min(len(clips), 16))], mano)
    if eval_clips:
        report["eval"] = evaluate(tok, eval_clips, mano)
    if out:
        save_checkpoint(out, tok, opt, steps, rng)
        (out / "eval.json").write_text(json.dumps(report, indent=2))
    return tok, report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m being_h0_train.tokenizer.train",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_argument_group("data")
    src.add_argument("--data-dir", help="directory of canonical clips (*.npz + *.json); default: generate synthetic clips")
    src.add_argument("--synthetic", type=int, default=64, help="number of synthetic clips when --data-dir is absent (default 64)")
    src.add_argument("--eval-fraction", type=float, default=0.1, help="share of clips held out for eval (default 0.1)")
    src.add_argument("--mano", help="MANO .pkl/.npz for joints (default: built-in synthetic hand; use the real one for real data)")
    m = ap.add_argument_group("model")
    m.add_argument("--preset", default="tiny", choices=["tiny", "full"], help="tiny: CPU-sized; full: paper-sized (2x8 GRQ, 4096 codes, dim 512)")
    m.add_argument("--layout", default="D99", help="feature layout: D51, D99, D109, D114, D162 (default D99)")
    m.add_argument("--whole-hand", action="store_true", help="one tokenizer for all features instead of wrist + fingers")
    m.add_argument("--groups", type=int, help="override number of GRQ groups")
    m.add_argument("--residual", type=int, help="override residual stages per group")
    m.add_argument("--codebook", type=int, help="override codebook size")
    t = ap.add_argument_group("training")
    t.add_argument("--steps", type=int, default=300)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--window", type=int, default=32, help="frames per training window (multiple of the downsample factor)")
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", help="output directory (checkpoint/, eval.json)")
    t.add_argument("--ckpt-every", type=int, default=100, help="save a checkpoint every N steps (0: only at the end)")
    t.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint")
    a = ap.parse_args(argv)
    over = {k: v for k, v in (("num_groups", a.groups), ("num_residual", a.residual), ("codebook_size", a.codebook)) if v}
    cfg = GRQConfig.preset(a.preset, layout=a.layout, part_level=not a.whole_hand, **over)
    clips = load_or_generate(a.data_dir, a.synthetic, a.seed)
    n_eval = max(1, int(len(clips) * a.eval_fraction)) if len(clips) > 1 else 0
    mano = ManoLayer.from_file(a.mano) if a.mano else None
    _, rep = train_tokenizer(cfg, clips[n_eval:] or clips, a.out, a.steps, a.batch, a.window, a.lr, a.seed, a.resume,
                             clips[:n_eval] or None, mano, a.ckpt_every)
    print(json.dumps({k: rep[k] for k in ("train", "eval") if k in rep}, indent=2))
    print(f"motion token ids: {cfg.num_token_ids} (set BeingH0Config.num_motion_tokens to this)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
