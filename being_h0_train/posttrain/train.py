"""Post-train Being-H0 on recorded demonstrations (action queries + proprio projector + MLP head).

Example (tiny random backbone, synthetic data, CPU, about a minute)::

    python -m being_h0_train.posttrain.train --synthetic 8 --backbone tiny \\
        --steps 200 --batch-size 8 --chunk-len 16 --out runs/tiny_post

    # real data: a directory exported by the recorder (or written by save_episodes)
    python -m being_h0_train.posttrain.train --data datasets/pick_toy \\
        --backbone /models/being_h0_1b --steps 20000 --batch-size 32 --device cuda --out runs/pick_toy

Output directory:
  checkpoints/step_XXXXXXX/  trainable.safetensors, optimizer.pt, trainer_state.json (for --resume)
  final/                     self-contained model (posttrain_config.json, heads.safetensors,
                             backbone/, norm_stats.json, training.json) -> python -m being_h0_train.export
  eval/metrics.json          open-loop L1/MSE per action dim on held-out episodes
  eval/open_loop.png         predicted vs recorded actions, per dim
  train_log.jsonl            step, loss, lr

Batches are drawn with a generator seeded by (seed, step), so a resumed run
sees exactly the batches and augmentations the uninterrupted run would have.
A checkpoint is written every --save-every steps and when SIGTERM / SIGINT
arrives (then the run exits 143 / 130); --resume continues from the newest,
and lands on the same weights as a run that was never interrupted.

Several tasks: with --instructions JSON, each episode's task id (from the
recorder's export) picks the phrasings of its instruction, one drawn per
window; batches are task-balanced.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from being_h0_runtime.policy.models.posttrain import (
    PostTrainModel,
    build_posttrain_model,
)
from being_h0_runtime.policy.models.posttrain_config import PostTrainConfig
from being_h0_runtime.policy.preprocess import PromptEncoder, TilePreprocessor

from ..common import GracefulStop, cosine_lr
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .data import (
    Episode,
    EpisodeSet,
    ImageAugment,
    WindowDataset,
    compute_stats,
    load_episodes,
    split_by_episode,
    synthetic_episodes,
)
from .tasks import TaskBalancedSampler, read_instructions


@dataclass
class TrainSettings:
    steps: int = 1000
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0
    grad_clip: float = 1.0
    seed: int = 0
    val_fraction: float = 0.2
    eval_every: int = 0  # 0: only at the end
    save_every: int = 0  # 0: only at the end
    augment: bool = True
    crop: bool = True  # random resized crop (off for fixed cameras: see ImageAugment)
    device: str = "cpu"
    log_every: int = 10
    #: learning-rate multiplier for the vision tower + projector (below 1 keeps a warmed-up tower's features)
    vision_lr_scale: float = 1.0
    #: loss weight of action targets a human drove after taking over from the policy (DAgger); others weigh 1
    intervention_weight: float = 1.0
    #: draw batches so every task is equally likely (no effect with one task)
    balance_tasks: bool = True


def make_preprocessors(model: PostTrainModel) -> tuple[TilePreprocessor, PromptEncoder]:
    """The exact pre-processing the runtime engine will run (shared module)."""
    return (TilePreprocessor(model.image_size, model.max_tiles, model.use_thumbnail),
            PromptEncoder(model.backbone.tokenizer.backend_tokenizer, model.prompt_suffix))


def _lr_at(step: int, s: TrainSettings) -> float:
    return cosine_lr(step, s.lr, s.steps, warmup_steps=s.warmup_steps, sequential=True)


def _to(batch: dict[str, torch.Tensor], device: str) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


@torch.no_grad()
def evaluate(model: PostTrainModel, episodes: Sequence[Episode], device: str = "cpu", batch_size: int = 16,
             max_windows: int | None = None) -> dict[str, Any]:
    """Open-loop evaluation: predict every window's chunk, compare to recorded actions (raw units)."""
    model.eval()
    tiles, prompt = make_preprocessors(model)
    ds = WindowDataset(episodes, model.cfg.chunk_len, tiles, prompt, model.stats, augment=None)
    n = len(ds) if max_windows is None else min(len(ds), max_windows)
    preds, gts, valids = [], [], []
    for i in range(0, n, batch_size):
        b = _to(ds.batch(range(i, min(n, i + batch_size)), pad_id=model.backbone.token_map.pad_id), device)
        out = model(b["pixel_values"], b["input_ids"], b["proprio"], b["text_mask"])
        preds.append(model.denormalize_actions(out).float().cpu().numpy())
        gts.append(model.denormalize_actions(b["actions"]).float().cpu().numpy())
        valids.append(b["valid"].cpu().numpy())
    pred, gt, valid = np.concatenate(preds), np.concatenate(gts), np.concatenate(valids)
    w = valid[..., None].astype(np.float64)
    err = pred - gt
    denom = np.maximum(w.sum((0, 1)), 1.0)
    l1 = (np.abs(err) * w).sum((0, 1)) / denom
    mse = (err ** 2 * w).sum((0, 1)) / denom
    names = list(model.cfg.action_names)
    return {
        "windows": int(n),
        "episodes": len(episodes),
        "l1_mean": float(l1.mean()),
        "mse_mean": float(mse.mean()),
        "l1_per_dim": {k: float(v) for k, v in zip(names, l1)},
        "mse_per_dim": {k: float(v) for k, v in zip(names, mse)},
        "_pred": pred, "_gt": gt, "_index": ds.index[:n],
    }


def plot_eval(metrics: dict[str, Any], names: Sequence[str], path: Path) -> Path:
    """Per-dim plot of recorded vs predicted (first chunk step) actions on the first held-out episode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pred, gt, index = metrics["_pred"], metrics["_gt"], metrics["_index"]
    first = [i for i, (e, _) in enumerate(index) if e == index[0][0]]
    d = len(names)
    cols = min(4, d)
    rows = math.ceil(d / cols) + 1
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.2 * rows), squeeze=False)
    for k in range(d):
        ax = axes[k // cols][k % cols]
        ax.plot(gt[first, 0, k], label="recorded", lw=1.5)
        ax.plot(pred[first, 0, k], label="predicted", lw=1.0, ls="--")
        ax.set_title(f"{names[k]}  L1={metrics['l1_per_dim'][names[k]]:.3g}", fontsize=8)
        ax.tick_params(labelsize=6)
    for k in range(d, (rows - 1) * cols):
        axes[k // cols][k % cols].axis("off")
    bar = axes[rows - 1][0]
    for k in range(1, cols):
        axes[rows - 1][k].axis("off")
    bar.bar(range(d), [metrics["l1_per_dim"][n] for n in names])
    bar.set_title("open-loop L1 per dim", fontsize=8)
    bar.tick_params(labelsize=6)
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def task_counts(episodes: Sequence[Episode]) -> dict[str, int]:
    """Episodes per task id ("" for episodes whose source named no task)."""
    counts: dict[str, int] = {}
    for e in episodes:
        counts[e.task_id] = counts.get(e.task_id, 0) + 1
    return dict(sorted(counts.items()))


def public_metrics(m: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in m.items() if not k.startswith("_")}


def train(cfg: PostTrainConfig, eset: EpisodeSet, out: str | Path, s: TrainSettings, resume: bool = False,
          progress: bool = True, instructions: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Run post-training; returns a summary (losses, final dir, eval metrics; "interrupted": the signal).

    instructions: task id -> phrasings of its instruction (a window of an episode of that task is
    trained with one drawn at random); None trains every episode with its recorded instruction.
    """
    # Longer than 60 lines on purpose: one training loop, read top to bottom; its steps share the model,
    # optimizer, data and schedule state, and splitting it would scatter that order over several functions.
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(s.seed)
    train_eps, val_eps = split_by_episode(eset, s.val_fraction, s.seed)
    stats = compute_stats(train_eps)
    cfg = cfg.replace(action_names=tuple(eset.action_names), proprio_names=tuple(eset.proprio_names),
                      control_rate_hz=float(eset.control_rate_hz),
                      action_units=tuple(eset.action_units) if eset.action_units else cfg.action_units)
    model = build_posttrain_model(cfg, stats, seed=s.seed).to(s.device)
    vision = [p for n, p in model.backbone.named_parameters()
              if p.requires_grad and ("vision_tower" in n or "multi_modal_projector" in n)]
    vision_ids = {id(p) for p in vision}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in vision_ids]
    params = rest + vision
    groups = [{"params": rest, "lr_scale": 1.0}]
    if vision:
        groups.append({"params": vision, "lr_scale": s.vision_lr_scale})
    opt = torch.optim.AdamW(groups, lr=s.lr, weight_decay=s.weight_decay)
    start = 0
    ck = latest_checkpoint(out) if resume else None
    if ck is not None:
        start = load_checkpoint(ck, model, opt, s.device)
    tiles, prompt = make_preprocessors(model)
    ds = WindowDataset(train_eps, cfg.chunk_len, tiles, prompt, stats, ImageAugment(crop=s.crop) if s.augment else None,
                       intervention_weight=s.intervention_weight, instructions=instructions)
    sampler = TaskBalancedSampler(ds) if s.balance_tasks else None
    pad = model.backbone.token_map.pad_id
    meta = {"settings": asdict(s), "config": cfg.to_dict(), "train_episodes": [e.episode_id for e in train_eps],
            "val_episodes": [e.episode_id for e in val_eps], "dataset": eset.source,
            "tasks": task_counts(eset.episodes), "instructions": instructions or {}}
    log = (out / "train_log.jsonl").open("a")
    losses: list[float] = []
    evals: list[dict[str, Any]] = []
    model.train()
    bar = tqdm(range(start, s.steps), initial=start, total=s.steps, disable=not progress, desc="post-train")
    t0 = time.monotonic()
    done = start
    with GracefulStop() as stop:
        for step in bar:
            rng = np.random.default_rng([s.seed, step])
            idx = sampler.draw(rng, s.batch_size) if sampler else rng.integers(0, len(ds), size=s.batch_size)
            b = _to(ds.batch(idx, rng, pad), s.device)
            for g in opt.param_groups:
                g["lr"] = _lr_at(step, s) * g.get("lr_scale", 1.0)
            pred = model(b["pixel_values"], b["input_ids"], b["proprio"], b["text_mask"])
            loss = model.loss(pred, b["actions"], b.get("weight", b["valid"]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if s.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, s.grad_clip)
            opt.step()
            lv = float(loss.detach())
            losses.append(lv)
            if step % s.log_every == 0 or step == s.steps - 1:
                log.write(json.dumps({"step": step, "loss": lv, "lr": _lr_at(step, s)}) + "\n")
                log.flush()
                bar.set_postfix(loss=f"{lv:.4f}")
            done = step + 1
            if s.save_every and done % s.save_every == 0 and done < s.steps:
                save_checkpoint(out, done, model, opt, meta)
            if s.eval_every and val_eps and done % s.eval_every == 0 and done < s.steps:
                m = public_metrics(evaluate(model, val_eps, s.device))
                evals.append({"step": done, **m})
                model.train()
            if stop.requested:  # SIGTERM / SIGINT: checkpoint where we are, a re-run resumes here
                if done < s.steps:
                    save_checkpoint(out, done, model, opt, meta)
                break
        if done == s.steps:
            save_checkpoint(out, s.steps, model, opt, meta)
    log.close()
    bar.close()
    if done < s.steps:
        print(f"\nstopped by signal {stop.signal} after step {done}: checkpoint in {out / 'checkpoints'}; "
              "run again with --resume to continue", file=sys.stderr, flush=True)
        return {"losses": losses, "start_step": start, "steps": s.steps, "interrupted": stop.signal,
                "exit_code": stop.exit_code(), "stopped_at": done}
    train_time = time.monotonic() - t0
    model.eval()
    summary: dict[str, Any] = {"losses": losses, "start_step": start, "steps": s.steps, "train_seconds": train_time}
    if val_eps:
        m = evaluate(model, val_eps, s.device)
        pub = public_metrics(m)
        (out / "eval").mkdir(exist_ok=True)
        (out / "eval" / "metrics.json").write_text(json.dumps({"final": pub, "during": evals}, indent=2))
        plot_eval(m, list(cfg.action_names), out / "eval" / "open_loop.png")
        summary["eval"] = pub
    final = model.cpu().save_pretrained(out / "final", extra={**meta, "eval": summary.get("eval")})
    summary["final_dir"] = str(final)
    return summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m being_h0_train.posttrain.train",
        description=__doc__.split("\n\n")[0] + "\n\nThe backbone stays frozen (unless --train-mode llm/lora); "
        "learnable action queries, a proprio projector and an MLP action head are trained with an L1 loss "
        "on normalised actions, predicting a whole chunk per forward pass.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="dataset directory (recorder export, or save_episodes .npz format)")
    src.add_argument("--synthetic", type=int, metavar="N", help="train on N synthetic episodes (demo / smoke test)")
    p.add_argument("--out", required=True, help="output directory (checkpoints/, final/, eval/)")
    p.add_argument("--backbone", "--init-from", dest="backbone", default="tiny",
                   help="BeingH0Config preset (tiny, internvl3-1b, internvl3-8b, ...) or a local checkpoint dir")
    p.add_argument("--chunk-len", type=int, default=16, help="actions per chunk (one action query each)")
    p.add_argument("--loss", choices=["l1", "l2", "smooth_l1"], default="l1", help="regression loss (Being-H0: l1)")
    p.add_argument("--train-mode", choices=["frozen", "llm", "lora", "full"], default="frozen",
                   help="frozen: heads only (default); llm: also the language model; lora: LoRA adapters on the LLM; "
                        "full: everything incl. the vision tower (small from-scratch models)")
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--head-hidden", type=int, default=512, help="hidden width of the action head MLP")
    p.add_argument("--proprio-hidden", type=int, default=512, help="hidden width of the proprio projector MLP")
    p.add_argument("--max-tiles", type=int, default=None, help="InternVL dynamic tiles per frame (default: backbone's)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--vision-lr-scale", type=float, default=1.0,
                   help="lr multiplier for the vision tower + projector in --train-mode full "
                        "(e.g. 0.1 after a vision warm-up, to keep what it learned)")
    p.add_argument("--intervention-weight", type=float, default=1.0, metavar="W",
                   help="loss weight of steps a human drove after taking over from the policy (DAgger "
                        "corrections, the dataset's `intervention` column); 1 = like every other step")
    p.add_argument("--instructions", default=None, metavar="JSON",
                   help="task id -> list of phrasings of its instruction (e.g. the instructions.json that "
                        "train-default writes beside its dataset); each training window of an episode of that task "
                        "gets one drawn at random (default: every episode keeps its recorded instruction)")
    p.add_argument("--no-balance-tasks", action="store_true",
                   help="draw windows uniformly instead of every task equally often (no effect with one task)")
    p.add_argument("--warmup-steps", type=int, default=0)
    p.add_argument("--seed", type=int, default=0, help="seeds init, split, batches and augmentation")
    p.add_argument("--val-fraction", type=float, default=0.2, help="fraction of EPISODES held out for evaluation")
    p.add_argument("--eval-every", type=int, default=0, help="evaluate every N steps (0: at the end only)")
    p.add_argument("--save-every", type=int, default=0, help="checkpoint every N steps (0: at the end only)")
    p.add_argument("--no-augment", action="store_true", help="disable random resized crop + colour jitter")
    p.add_argument("--no-crop", action="store_true",
                   help="colour jitter only (fixed cameras: image position = table position)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda, cuda:1")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _compact_size(a: argparse.Namespace) -> int | None:
    """Tile size to shrink frames to at load, when that cannot change what the model sees (else None)."""
    if not a.no_augment and not a.no_crop:
        return None  # random crops want the full frame
    from being_h0_runtime.policy.models.vla_config import (
        BEING_H0_CONFIG_FILE,
        BeingH0Config,
    )

    if Path(a.backbone).is_dir():
        if not (Path(a.backbone) / BEING_H0_CONFIG_FILE).exists():
            return None
        bc = BeingH0Config.load(a.backbone)
    else:
        bc = BeingH0Config.preset(a.backbone)
    tiles = a.max_tiles or bc.max_dynamic_tiles
    return bc.vision.image_size if tiles == 1 and not bc.use_thumbnail else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if not a.intervention_weight > 0:
        parser.error(f"--intervention-weight must be > 0, got {a.intervention_weight}")
    try:
        return _run(a)
    except (FileNotFoundError, ValueError) as err:  # a mistyped --data / --init-from / a bad --instructions
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(a: argparse.Namespace) -> int:
    eset = synthetic_episodes(a.synthetic, seed=a.seed) if a.synthetic else load_episodes(a.data, _compact_size(a))
    cfg = PostTrainConfig(backbone=a.backbone, action_names=tuple(eset.action_names),
                          proprio_names=tuple(eset.proprio_names), chunk_len=a.chunk_len, loss=a.loss,
                          train_mode=a.train_mode, lora_r=a.lora_r, head_hidden=a.head_hidden,
                          proprio_hidden=a.proprio_hidden, max_tiles=a.max_tiles)
    s = TrainSettings(steps=a.steps, batch_size=a.batch_size, lr=a.lr, weight_decay=a.weight_decay,
                      warmup_steps=a.warmup_steps, seed=a.seed, val_fraction=a.val_fraction,
                      eval_every=a.eval_every, save_every=a.save_every, augment=not a.no_augment, crop=not a.no_crop,
                      device=a.device, vision_lr_scale=a.vision_lr_scale, intervention_weight=a.intervention_weight,
                      balance_tasks=not a.no_balance_tasks)
    instructions = read_instructions(Path(a.instructions)) if a.instructions else None
    summary = train(cfg, eset, a.out, s, resume=a.resume, progress=not a.quiet, instructions=instructions)
    if "interrupted" in summary:
        return int(summary["exit_code"])
    losses = summary["losses"]
    if losses:
        k = max(1, len(losses) // 10)
        print(f"loss: first {np.mean(losses[:k]):.4f} -> last {np.mean(losses[-k:]):.4f} over {len(losses)} steps")
    if "eval" in summary:
        print(f"open-loop eval: L1 {summary['eval']['l1_mean']:.4f}  MSE {summary['eval']['mse_mean']:.4f} "
              f"({summary['eval']['windows']} windows, {summary['eval']['episodes']} episodes)")
    print(f"model: {summary['final_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
