"""Tokenizer ablation: feature layout x (part-level vs whole-hand) on generated clips.

Trains one GRQ tokenizer per configuration on the same synthetic clips (same
seed, same step budget) and prints held-out MPJPE / PA-MPJPE / MWTE (mm) and
codebook usage, mirroring Being-H0's tokenizer ablation. Defaults are sized
for a CPU (tiny tokenizer, a few hundred steps each; ~1 min per row on an idle
core); pass ``--preset full --steps 20000`` on a GPU box for paper-sized runs.

Example::

    python -m being_h0_train.tokenizer.ablation --layouts D51 D99 D162 --steps 300
    python -m being_h0_train.tokenizer.ablation --json ablation.json
"""

from __future__ import annotations

import argparse
import json
import sys


from .data import load_or_generate
from .model import GRQConfig
from .train import train_tokenizer


def run(layouts: list[str], modes: list[str], steps: int, clips: int, preset: str, seed: int, batch: int,
        window: int, data_dir: str | None = None, progress: bool = False) -> list[dict]:
    data = load_or_generate(data_dir, clips, seed)
    n_eval = max(1, len(data) // 8)
    train, held = data[n_eval:], data[:n_eval]
    rows = []
    for layout in layouts:
        for mode in modes:
            cfg = GRQConfig.preset(preset, layout=layout, part_level=(mode == "part"))
            _, rep = train_tokenizer(cfg, train, None, steps, batch, window, seed=seed, eval_clips=held, progress=progress)
            ev = rep["eval"]
            rows.append({"layout": layout, "mode": mode, **{k: round(v, 3) for k, v in ev.items()},
                         "train_s": round(rep["train_seconds"], 1)})
            print(_fmt_row(rows[-1]), flush=True)
    return rows


def _fmt_row(r: dict) -> str:
    return (f"{r['layout']:>5} {r['mode']:>6} {r['mpjpe_mm']:>9.2f} {r['pa_mpjpe_mm']:>11.2f} {r['mwte_mm']:>8.2f}"
            f" {r['codebook_usage']:>7.3f} {r['perplexity']:>7.1f} {r['train_s']:>8.1f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m being_h0_train.tokenizer.ablation", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layouts", nargs="+", default=["D51", "D99", "D109", "D114", "D162"], help="feature layouts to compare")
    ap.add_argument("--modes", nargs="+", default=["part", "whole"], choices=["part", "whole"],
                    help="part: wrist and fingers tokenised separately; whole: one tokenizer for the whole hand")
    ap.add_argument("--steps", type=int, default=300, help="training steps per configuration (default 300)")
    ap.add_argument("--clips", type=int, default=48, help="number of generated clips (1/8 held out for evaluation)")
    ap.add_argument("--data-dir", help="use canonical clips from this directory instead of generated ones")
    ap.add_argument("--preset", default="tiny", choices=["tiny", "full"])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the rows to this JSON file")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1; 0 leaves torch's default)")
    ap.add_argument("--progress", action="store_true", help="show a tqdm bar per configuration")
    a = ap.parse_args(argv)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    print(f"{'lay':>5} {'mode':>6} {'MPJPE':>9} {'PA-MPJPE':>11} {'MWTE':>8} {'usage':>7} {'perp':>7} {'train_s':>8}   (mm, held-out)")
    rows = run(a.layouts, a.modes, a.steps, a.clips, a.preset, a.seed, a.batch, a.window, a.data_dir, a.progress)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    best = min(rows, key=lambda r: r["mpjpe_mm"])
    print(f"best MPJPE: {best['layout']} {best['mode']} ({best['mpjpe_mm']:.2f} mm)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
