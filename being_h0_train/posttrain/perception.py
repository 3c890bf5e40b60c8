"""Vision warm-up: teach a from-scratch vision tower where the objects are before post-training.

Why: Being-H0 starts from a pretrained InternVL; this repo cannot download
one, and the small engines for the virtual rig start from random weights.
Post-training alone then has to learn "where is the toy" from the handful of
scene layouts the demonstrations contain (one per episode) -- measured: with
60 demos the engine localised the toy to no better than 6-13 cm.  Rendering
the virtual rig is cheap, so we render thousands of layouts of every task's
scene (objects placed exactly as the rig places them, arm and hand posed as in
that task's demos so the arm occludes like it will; layouts.py) and train the
whole backbone to answer "where are this task's objects" through a query token
-- the same prompt (the task's instruction), image tokens, proprio token and
query path the action queries use later.  Post-training then starts from a
backbone that already reads the layout.

    layouts = render_layouts(n, frame_size, tile, proprio_pools, seed, tasks=[...])
    backbone, metrics = warm_up("sim-small", layouts, settings)
    backbone.save_pretrained(dir)  ->  post-train with --backbone dir

Targets per task: layouts.TASK_TARGETS (base frame; e.g. pick_place_toy: toy
x, y, heading as cos/sin of 4*yaw, box x, y, yaw).  The query and its head are
thrown away afterwards.  Resumable: finished render chunks and a training
checkpoint every `save_every` steps (and on SIGTERM / SIGINT) live in the
output folder until the stage finishes.

Command line (normally run by `make train-default`):
    python -m being_h0_train.posttrain.perception --data DATASET --out DIR --samples 16000 --steps 3000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..common import GracefulStop, cosine_lr, prune_dirs, replace_dir
from .layouts import TASK_TARGETS, Layouts, proprio_pools, render_layouts

#: pick_place_toy's targets, in column order (the single-task warm-up's whole target vector)
TARGET_NAMES = TASK_TARGETS["pick_place_toy"]


@dataclass
class WarmUpSettings:
    samples: int = 16000  # rendered layouts (10% held out)
    steps: int = 3000
    batch_size: int = 32
    lr: float = 5e-4
    seed: int = 0
    jobs: int = 1  # render processes
    #: scene variation the layouts are rendered in: "train" adds random toys, distractors, lights, table
    #: and camera jitter while keeping clear of the bench's unseen/clutter (sim/train_variation.py)
    variation: str = "seen"
    save_every: int = 250  # training checkpoint period (steps)
    #: the throwaway grid readout: "flatten" (one weight per token and channel: it can read *which* token
    #: holds the object) or "pool" (mean over tokens first: the vision tower must write *where* into the
    #: channels, which is what a query token that still attends almost uniformly can carry)
    probe: str = "flatten"
    #: with variation "train": this fraction of the layouts is rendered in the bench's `seen` scenes instead.
    #: Why: on train-variation layouts of four tasks alone the query readout never left the blind guess (6000
    #: steps, 32 000 layouts), while seen layouts teach it within a few hundred steps; mixed in, they
    #: bootstrap the query path, which the train layouts then generalise (docs/training_variations.md)
    seen_fraction: float = 0.0
    #: the first this many steps draw their batches from the seen layouts only (a curriculum): mixed in
    #: from the start, the train layouts' clutter kept the query blind (measured, see seen_fraction)
    seen_first_steps: int = 0

    def __post_init__(self) -> None:
        # checked where the settings are made, so a bad value stops a pipeline before it renders anything
        if not 0.0 <= self.seen_fraction < 1.0:
            raise ValueError(f"seen_fraction must be in [0, 1), got {self.seen_fraction}")
        if self.seen_first_steps < 0:
            raise ValueError(f"seen_first_steps must be >= 0, got {self.seen_first_steps}")


# ----------------------------------------------------------------------------- model
def _stats(targets: np.ndarray, proprio: np.ndarray):
    """Target and proprio normalisation over the rows that define each target (other tasks' are NaN)."""
    from being_h0_runtime.policy.models.posttrain import STD_FLOOR, NormStats

    if not np.isnan(targets).any():
        return NormStats.from_arrays(targets, proprio)
    with np.errstate(invalid="ignore"):
        mean, std = np.nanmean(targets.astype(np.float64), 0), np.nanstd(targets.astype(np.float64), 0)
    mean, std = np.nan_to_num(mean), np.maximum(np.nan_to_num(std), STD_FLOOR)
    p = proprio.astype(np.float64)
    return NormStats(mean.astype(np.float32), std.astype(np.float32), p.mean(0).astype(np.float32),
                     np.maximum(p.std(0), STD_FLOOR).astype(np.float32))


def _masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:  # one task: every column counts (exactly the single-task loss)
        return nn.functional.mse_loss(pred, target)
    return ((pred - target) ** 2 * mask).sum() / mask.sum().clamp(min=1)


class _Prompts:
    """Token ids of each task's instruction, batched with right padding (mask None when all are one prompt)."""

    def __init__(self, encode, words: Sequence[str], pad_id: int) -> None:
        # copies: the encoder caches its arrays
        self.ids = [torch.from_numpy(np.array(encode(w)[0], np.int64)) for w in words]
        self.pad_id = pad_id

    def batch(self, task: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        if len(self.ids) == 1:
            return self.ids[0][None].expand(len(task), -1), None
        n = max(len(self.ids[k]) for k in task)
        ids = torch.full((len(task), n), self.pad_id, dtype=torch.int64)
        mask = torch.zeros((len(task), n), dtype=torch.int64)
        for row, k in enumerate(task):
            ids[row, :len(self.ids[k])] = self.ids[k]
            mask[row, :len(self.ids[k])] = 1
        return ids, mask


def _save_state(root: Path, step: int, parts: dict[str, object], rng: np.random.Generator) -> None:
    with replace_dir(root / f"step_{step:07d}") as tmp:  # written whole, then renamed
        torch.save({"step": step, **{k: v.state_dict() for k, v in parts.items()},  # type: ignore[attr-defined]
                    "torch_rng": torch.get_rng_state(), "numpy_rng": rng.bit_generator.state}, tmp / "state.pt")
    prune_dirs(root, "step_*", 2)


def _load_state(root: Path, parts: dict[str, object], rng: np.random.Generator) -> int:
    cks = sorted(d for d in root.glob("step_*") if (d / "state.pt").exists()) if root.is_dir() else []
    if not cks:
        return 0
    st = torch.load(cks[-1] / "state.pt", weights_only=False)
    for k, v in parts.items():
        v.load_state_dict(st[k])  # type: ignore[attr-defined]
    torch.set_rng_state(st["torch_rng"])
    rng.bit_generator.state = st["numpy_rng"]  # the position in the batch order
    return int(st["step"])


def warm_up(backbone: str | Path, lay: Layouts, s: WarmUpSettings, instructions: dict[str, str] | None = None,
            progress: bool = True, checkpoints: Path | None = None):
    """Train the whole backbone to answer "where are this task's objects" through one query token.

    The warm-up model *is* a post-training model (same prompt, image tokens,
    proprio token, learnable query, MLP head; chunk of one "action" = the pose
    targets), so the language model learns to route what the image says about
    the layout into query tokens -- exactly the path the action queries use
    later.  A second readout straight from the projector's token grid speeds up
    the vision side.  Measured with the single-task `make train-default`
    settings (16000 pick_place_toy layouts, 3000 steps), held-out toy position
    error, median:
      grid readout only ............ 0.45 cm, but the post-trained policy then
                                     ignored the image (image-use ratio 0.10)
      query readout only ........... 7.95 cm (= blind guess; box 0.31 cm)
      both (this function) ......... 0.38 cm through the query

    instructions: task -> the words its layouts are shown with (default: the task file's first).
    checkpoints: folder for resumable training state (None: no checkpoints).
    Returns (backbone, held-out metrics: per object position error in cm, median and p90, and a
    blind model's), or (None, {"interrupted": signal, ...}) after SIGTERM / SIGINT.
    """
    # Longer than 60 lines on purpose: one training loop, read top to bottom; its steps share the model,
    # optimizer, data and schedule state, and splitting it would scatter that order over several functions.
    from being_h0_runtime.policy.models.posttrain import build_posttrain_model
    from being_h0_runtime.policy.models.posttrain_config import PostTrainConfig

    from .tasks import task_instructions
    from .train import make_preprocessors

    torch.manual_seed(s.seed)
    n = len(lay.images)
    rng = np.random.default_rng(s.seed)
    order = rng.permutation(n)
    n_val = max(1, n // 10)
    val, train = order[:n_val], order[n_val:]
    stats = _stats(lay.targets[train], lay.proprio[train])
    train_seen = train[lay.seen[train]] if lay.seen is not None else train[:0]
    cfg = PostTrainConfig(backbone=str(backbone), backbone_seed=s.seed, action_names=lay.names,
                          proprio_names=tuple(f"p{i}" for i in range(lay.proprio.shape[1])), chunk_len=1,
                          train_mode="full", loss="l2")
    model = build_posttrain_model(cfg, stats, seed=s.seed)
    tiles, prompt = make_preprocessors(model)
    words = instructions or {t: w[0] for t, w in task_instructions(lay.tasks).items()}
    prompts = _Prompts(prompt, [words[t] for t in lay.tasks], model.backbone.token_map.pad_id)
    valid = lay.mask()
    tn = torch.from_numpy(np.where(valid, (lay.targets - stats.action_mean) / stats.action_std, 0)).float()
    mask = None if valid.all() else torch.from_numpy(valid).float()
    pn = torch.from_numpy((lay.proprio - stats.proprio_mean) / stats.proprio_std).float()

    def forward(idx: np.ndarray) -> torch.Tensor:
        ids, text_mask = prompts.batch(lay.task[idx])
        pixels = torch.from_numpy(np.stack([tiles(lay.images[i]) for i in idx]))
        return model(pixels, ids, pn[idx], text_mask)[:, 0]

    # A second, throwaway readout straight from the projector's token grid: its gradient teaches the vision
    # tower to find the toy quickly (a few pixels wide; through the language model alone the toy was not
    # learned in 3000 steps while the box was), and the query readout teaches the LLM to carry it.
    captured: list[torch.Tensor] = []
    hook = model.backbone.internvl.model.multi_modal_projector.register_forward_hook(
        lambda _m, _i, out: captured.append(out))
    with torch.no_grad():
        forward(train[:1])
    grid = captured.pop()
    probe = grid_probe(s.probe, grid.shape[1], grid.shape[2], len(lay.names))
    params = [p for p in model.parameters() if p.requires_grad] + list(probe.parameters())
    opt = torch.optim.AdamW(params, lr=s.lr, weight_decay=0.01)
    parts = {"model": model, "probe": probe, "optimizer": opt}
    done = start = _load_state(checkpoints, parts, rng) if checkpoints else 0
    model.train()
    bar = tqdm(range(start, s.steps), initial=start, total=s.steps, desc="vision warm-up", disable=not progress)
    loss = torch.zeros(())
    with GracefulStop() as stop:
        for step in bar:
            lr = cosine_lr(step, s.lr, s.steps, warmup_steps=100)
            for g in opt.param_groups:
                g["lr"] = lr
            pool = train_seen if step < s.seen_first_steps and len(train_seen) else train
            idx = pool[rng.integers(0, len(pool), s.batch_size)]
            m = None if mask is None else mask[idx]
            loss = _masked_mse(forward(idx), tn[idx], m)
            probe_loss = _masked_mse(probe(captured.pop()), tn[idx], m)
            opt.zero_grad(set_to_none=True)
            (loss + probe_loss).backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            if step % 50 == 0:
                bar.set_postfix(query=f"{loss.item():.4f}", grid=f"{probe_loss.item():.4f}")
            done = step + 1
            if checkpoints and done < s.steps and (stop.requested or (s.save_every and done % s.save_every == 0)):
                _save_state(checkpoints, done, parts, rng)
            if stop.requested:
                break
    bar.close()
    if done < s.steps:
        hook.remove()
        return None, {"interrupted": stop.signal, "exit_code": stop.exit_code(), "stopped_at": done}
    model.eval()
    probe.eval()
    preds, grid_preds = [], []
    with torch.no_grad():
        for i in range(0, n_val, 64):
            preds.append(forward(val[i:i + 64]).numpy())
            grid_preds.append(probe(captured.pop()).numpy())
    hook.remove()
    denorm = [np.concatenate(p) * stats.action_std + stats.action_mean for p in (preds, grid_preds)]
    metrics = position_errors(denorm[0], lay.targets[val], lay.names, stats.action_mean)
    if lay.seen is not None and (~lay.seen[val]).any() and lay.seen[val].any():
        # mixed layouts: the figures that matter are those of the harder (train-variation) rows alone
        rows = ~lay.seen[val]
        metrics.update({f"{k}_train_rows": v for k, v in position_errors(
            denorm[0][rows], lay.targets[val][rows], lay.names, stats.action_mean).items()
            if k.endswith("_cm_median")})
    # the grid readout's error tells a vision tower that cannot see (both high) from a query path that
    # does not carry what it sees (grid low, query at the blind guess)
    grid = position_errors(denorm[1], lay.targets[val], lay.names, stats.action_mean)
    metrics.update({f"{k[:-len('_median')]}_grid_median": v for k, v in grid.items() if k.endswith("_cm_median")})
    metrics.update(held_out=int(n_val), final_loss=float(loss.item()), probe=s.probe)
    return model.backbone, metrics


def grid_probe(kind: str, tokens: int, width: int, outputs: int) -> nn.Module:
    """The throwaway readout of the projector's (B, tokens, width) grid (WarmUpSettings.probe)."""
    if kind == "flatten":
        return nn.Sequential(nn.LayerNorm(width), nn.Flatten(), nn.Linear(tokens * width, 256), nn.GELU(),
                             nn.Linear(256, outputs))
    if kind == "pool":
        return nn.Sequential(nn.LayerNorm(width), _MeanOverTokens(), nn.Linear(width, 256), nn.GELU(),
                             nn.Linear(256, outputs))
    raise ValueError(f"unknown warm-up probe {kind!r}: flatten or pool")


class _MeanOverTokens(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1)


def position_errors(pred: np.ndarray, true: np.ndarray, names: Sequence[str], mean: np.ndarray) -> dict[str, float]:
    """Per object with x and y targets: `<obj>_cm_median`, `_p90` and `_median_blind` (guessing the mean).

    Only the rows that define the object's columns count (the layouts of its task).
    """
    out: dict[str, float] = {}
    for name in names:
        if not name.endswith("_x") or name[:-2] + "_y" not in names:
            continue
        obj, ix, iy = name[:-2], names.index(name), names.index(name[:-2] + "_y")
        rows = ~np.isnan(true[:, ix])
        if not rows.any():
            continue
        t = true[rows][:, [ix, iy]]
        err = np.linalg.norm(pred[rows][:, [ix, iy]] - t, axis=1) * 100
        blind = np.linalg.norm(t - mean[[ix, iy]], axis=1) * 100
        out.update({f"{obj}_cm_median": float(np.median(err)), f"{obj}_cm_p90": float(np.percentile(err, 90)),
                    f"{obj}_cm_median_blind": float(np.median(blind))})
    return out

# ----------------------------------------------------------------------------- CLI
def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m being_h0_train.posttrain.perception", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="post-training dataset (arm/hand poses and the camera frame size)")
    ap.add_argument("--out", required=True, help="directory for the warmed-up backbone (+ warmup.json)")
    ap.add_argument("--backbone", default="sim-small", help="backbone preset to start from")
    ap.add_argument("--tasks", default=None, help="comma-separated task ids whose scenes are rendered "
                    f"(default: the dataset's; known: {', '.join(TASK_TARGETS)})")
    for f in ("samples", "steps", "batch_size", "lr", "seed", "jobs", "save_every", "seen_fraction",
              "seen_first_steps"):
        d = getattr(WarmUpSettings, f)
        ap.add_argument("--" + f.replace("_", "-"), type=type(d), default=d)
    ap.add_argument("--variation", choices=("seen", "train"), default=WarmUpSettings.variation,
                    help="scene variation to render: seen (the bench's toy, table and camera) or "
                         "train (random toys, distractors, light, table, camera jitter; never the bench's "
                         "unseen/clutter objects)")
    ap.add_argument("--probe", choices=("flatten", "pool"), default=WarmUpSettings.probe,
                    help="throwaway grid readout that teaches the vision tower: flatten (per-token weights) or "
                         "pool (mean over tokens: position must live in the channels, as a query can carry it)")
    return ap


def dataset_tasks(data: str | Path) -> tuple[str, ...]:
    """The task ids of a recorder export, in order of first appearance (pick_place_toy when it names none)."""
    meta = Path(data) / "meta.json"
    ids = [str(e.get("task_id", "")) for e in json.loads(meta.read_text())["episodes"]] if meta.exists() else []
    tasks = tuple(dict.fromkeys(t for t in ids if t))
    return tasks or ("pick_place_toy",)


def run(data: str | Path, out: str | Path, backbone_name: str, s: WarmUpSettings, progress: bool = True,
        tasks: Sequence[str] | None = None) -> dict:
    """The whole stage: render layouts of `tasks` (default: the dataset's) posed like `data`, warm up
    `backbone_name`, save it to `out`.  Resumes from `out`'s render chunks and checkpoints; returns the
    metrics, or {"interrupted": signal, "exit_code": ...} when SIGTERM / SIGINT stopped it."""
    from being_h0_runtime.policy.models.vla_config import BeingH0Config

    tasks = tuple(tasks or dataset_tasks(data))
    pools, frame_size = proprio_pools(data)
    cfg = BeingH0Config.preset(backbone_name)
    if cfg.max_dynamic_tiles != 1 or cfg.use_thumbnail:
        raise ValueError(f"vision warm-up renders single tiles; backbone {backbone_name!r} uses "
                         f"{cfg.max_dynamic_tiles} tiles (thumbnail={cfg.use_thumbnail})")
    out = Path(out)
    t0 = time.monotonic()
    with GracefulStop() as stop:  # between render chunks a stop request is honoured at the next chunk
        lay = render_mix(s, frame_size, cfg.vision.image_size, pools, tasks, out / "layouts", stop, progress)
    if lay is None:
        return {"interrupted": stop.signal, "exit_code": stop.exit_code()}
    t_render = time.monotonic() - t0
    backbone, metrics = warm_up(backbone_name, lay, s, progress=progress, checkpoints=out / "checkpoints")
    if backbone is None:
        return metrics
    metrics.update(render_s=round(t_render, 1), train_s=round(time.monotonic() - t0 - t_render, 1))
    backbone.save_pretrained(out)
    (out / "warmup.json").write_text(json.dumps({"settings": asdict(s), "backbone": backbone_name, "tasks": tasks,
                                                 "frame_size": list(frame_size), "targets": lay.names,
                                                 "metrics": metrics}, indent=2))
    for scratch in ("layouts", "checkpoints"):  # the finished stage keeps only the backbone
        shutil.rmtree(out / scratch, ignore_errors=True)
    return metrics


def render_mix(s: WarmUpSettings, frame_size: tuple[int, int], tile: int, pools, tasks: Sequence[str],
               cache: Path | None, stop: GracefulStop | None = None, progress: bool = True) -> Layouts | None:
    """The warm-up's layouts: `s.samples` in `s.variation`, of which `s.seen_fraction` in `seen` (train only).

    The seen part uses its own scene seeds (seed + 500), so no layout appears twice. None when stopped.
    """
    n_seen = int(round(s.samples * s.seen_fraction)) if s.variation == "train" else 0
    main = render_layouts(s.samples - n_seen, frame_size, tile, pools, s.seed, s.jobs, progress, tasks=tasks,
                          cache=cache, stop=stop, variation=s.variation)
    if main is None or n_seen == 0:
        return main
    seen = render_layouts(n_seen, frame_size, tile, pools, s.seed + 500, s.jobs, progress, tasks=tasks,
                          cache=cache, stop=stop, variation="seen")
    return None if seen is None else main.concat(seen)


def describe(m: dict) -> str:
    """One line: each object's held-out position error (median) beside a blind guess's (and the grid readout's)."""
    objs = [k[: -len("_cm_median")] for k in m if k.endswith("_cm_median")]
    return "; ".join(f"{o} {m[o + '_cm_median']:.2f} cm (blind {m[o + '_cm_median_blind']:.2f}"
                     + (f", grid {m[o + '_cm_grid_median']:.2f}" if o + "_cm_grid_median" in m else "")
                     + (f", train-variation rows {m[o + '_cm_median_train_rows']:.2f}"
                        if o + "_cm_median_train_rows" in m else "") + ")"
                     for o in objs)


def main(argv: Sequence[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    s = WarmUpSettings(samples=a.samples, steps=a.steps, batch_size=a.batch_size, lr=a.lr, seed=a.seed, jobs=a.jobs,
                       save_every=a.save_every, variation=a.variation, probe=a.probe, seen_fraction=a.seen_fraction,
                       seen_first_steps=a.seen_first_steps)
    tasks = [t for t in a.tasks.split(",") if t] if a.tasks else None
    m = run(a.data, a.out, a.backbone, s, tasks=tasks)
    if "interrupted" in m:
        print(f"stopped by signal {m['interrupted']}: run the same command again to resume", file=sys.stderr)
        return int(m["exit_code"])
    print(f"held-out position error, median: {describe(m)}")
    print(f"backbone: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
