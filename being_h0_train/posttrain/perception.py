"""Vision warm-up: teach a from-scratch vision tower where the objects are before post-training.

Why: Being-H0 starts from a pretrained InternVL; this repo cannot download
one, and the small engines for the virtual rig start from random weights.
Post-training alone then has to learn "where is the toy" from the handful of
scene layouts the demonstrations contain (one per episode) -- measured: with
60 demos the engine localised the toy to no better than 6-13 cm.  Rendering
the virtual rig is cheap, so we render thousands of layouts (toy and box
poses drawn exactly as the rig draws them, arm and hand posed as in the demos
so the arm occludes like it will) and train the whole backbone to answer
"where are the toy and the box" through a query token -- the same prompt,
image tokens, proprio token and query path the action queries use later.
Post-training then starts from a backbone that already reads the layout.

    images, targets, proprio = render_layouts(n, frame_size, tile, proprio_pool, seed)
    backbone, metrics = warm_up("sim-small", images, targets, proprio, settings)
    backbone.save_pretrained(dir)  ->  post-train with --backbone dir

Targets (all in the robot base frame): toy x, y; toy heading as cos/sin of
4*yaw (a cuboid toy looks and grasps the same every quarter turn); box x, y,
yaw.  The query and its head are thrown away afterwards.

Command line (normally run by `make train-default`):
    python -m being_h0_train.posttrain.perception --data DATASET --out DIR --samples 16000 --steps 3000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..common import cosine_lr

#: names of the regression targets, in column order
TARGET_NAMES = ("toy_x", "toy_y", "toy_cos4yaw", "toy_sin4yaw", "box_x", "box_y", "box_yaw")


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


# ----------------------------------------------------------------------------- rendering
def _render_chunk(args: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Worker: render `n` layouts with scene seeds from `seed`; returns images (n,S,S,3) uint8, targets (n,7),
    and the proprio row (n,13) the arm and hand were posed with."""
    n, seed, frame_size, tile, proprio_pool, variation = args
    os.environ.setdefault("MUJOCO_GL", "egl")
    from being_h0_runtime.sim.world import VirtualRig
    from being_h0_train.posttrain.data import compact_images

    rig = VirtualRig("pick_place_toy", variation, seed=seed, image_size=frame_size)
    rng = np.random.default_rng([seed, 1])
    images = np.empty((n, tile, tile, 3), np.uint8)
    targets = np.empty((n, len(TARGET_NAMES)), np.float32)
    rows = np.empty((n, 13), np.float32)
    try:
        for i in range(n):
            rig.reset(seed + i)  # toy/box poses drawn exactly as an episode's reset draws them
            row = proprio_pool[rng.integers(len(proprio_pool))]
            rows[i] = row[:13]
            rig.set_pose(row[:7], row[7:13])
            images[i] = compact_images(rig.render_rgb()[None], tile)[0]
            poses = rig.object_poses()
            (tx, ty, _), tq = poses["toy"]
            (bx, by, _), bq = poses["box"]
            tyaw, byaw = _yaw(tq), _yaw(bq)
            targets[i] = (tx, ty, math.cos(4 * tyaw), math.sin(4 * tyaw), bx, by, byaw)
    finally:
        rig.close()
    return images, targets, rows


def _yaw(q_xyzw: np.ndarray) -> float:
    x, y, z, w = q_xyzw
    return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def render_layouts(n: int, frame_size: tuple[int, int], tile: int, proprio_pool: np.ndarray, seed: int = 0,
                   jobs: int = 1, progress: bool = True, variation: str = "seen",
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` renders of random pick_place_toy layouts (in scene `variation`) at the camera's `frame_size`,
    shrunk to `tile` px.

    Returns (images, pose targets, the proprio rows the arm and hand were posed with)."""
    pool = np.asarray(proprio_pool, np.float64)
    if pool.ndim != 2 or pool.shape[1] < 13 or len(pool) == 0:
        raise ValueError(f"proprio_pool must be (M, >=13) arm+hand rows, got shape {pool.shape}")
    per = 250
    # scene seeds far from demo (1000+) and benchmark (0+) seeds so no layout is shared
    chunks = [(min(per, n - s), 10_000_000 + seed * 1_000_000 + s, tuple(frame_size), tile, pool, variation)
              for s in range(0, n, per)]
    bar = tqdm(total=n, desc="rendering layouts", unit="img", disable=not progress)
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    if jobs <= 1:
        for c in chunks:
            out.append(_render_chunk(c))
            bar.update(c[0])
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(jobs) as p:
            for r, c in zip(p.imap(_render_chunk, chunks), chunks):
                out.append(r)
                bar.update(c[0])
    bar.close()
    return tuple(np.concatenate([o[k] for o in out]) for k in range(3))  # type: ignore[return-value]


# ----------------------------------------------------------------------------- model
def warm_up(backbone: str | Path, images: np.ndarray, targets: np.ndarray, proprio: np.ndarray, s: WarmUpSettings,
            instruction: str = "pick up the toy and put it in the box", progress: bool = True):
    """Train the whole backbone to answer "where are the toy and the box" through one query token.

    The warm-up model *is* a post-training model (same prompt, image tokens,
    proprio token, learnable query, MLP head; chunk of one "action" = the pose
    targets), so the language model learns to route what the image says about
    the layout into query tokens -- exactly the path the action queries use
    later.  A second readout straight from the projector's token grid speeds up
    the vision side.  Measured with the `make train-default` settings (16000
    layouts, 3000 steps), held-out toy position error, median:
      grid readout only ............ 0.45 cm, but the post-trained policy then
                                     ignored the image (image-use ratio 0.10)
      query readout only ........... 7.95 cm (= blind guess; box 0.31 cm)
      both (this function) ......... 0.38 cm through the query

    Returns (backbone, held-out metrics: toy/box position error in cm,
    median and p90, and a blind model's error).
    """
    # Longer than 60 lines on purpose: one training loop, read top to bottom; its steps share the model,
    # optimizer, data and schedule state, and splitting it would scatter that order over several functions.
    from being_h0_runtime.policy.models.posttrain import (
        NormStats,
        build_posttrain_model,
    )
    from being_h0_runtime.policy.models.posttrain_config import PostTrainConfig

    from .train import make_preprocessors

    torch.manual_seed(s.seed)
    n = len(images)
    rng = np.random.default_rng(s.seed)
    order = rng.permutation(n)
    n_val = max(1, n // 10)
    val, train = order[:n_val], order[n_val:]
    stats = NormStats.from_arrays(targets[train], proprio[train])
    cfg = PostTrainConfig(backbone=str(backbone), backbone_seed=s.seed, action_names=TARGET_NAMES,
                          proprio_names=tuple(f"p{i}" for i in range(proprio.shape[1])), chunk_len=1,
                          train_mode="full", loss="l2")
    model = build_posttrain_model(cfg, stats, seed=s.seed)
    tiles, prompt = make_preprocessors(model)
    ids = torch.from_numpy(np.array(prompt(instruction)[0], np.int64))[None]  # a copy: the encoder caches its arrays
    tn = torch.from_numpy((targets - stats.action_mean) / stats.action_std).float()
    pn = torch.from_numpy((proprio - stats.proprio_mean) / stats.proprio_std).float()

    def pixels(idx: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.stack([tiles(images[i]) for i in idx]))

    # A second, throwaway readout straight from the projector's token grid: its gradient teaches the vision
    # tower to find the toy quickly (a few pixels wide; through the language model alone the toy was not
    # learned in 3000 steps while the box was), and the query readout teaches the LLM to carry it.
    captured: list[torch.Tensor] = []
    hook = model.backbone.internvl.model.multi_modal_projector.register_forward_hook(
        lambda _m, _i, out: captured.append(out))
    with torch.no_grad():
        model(pixels(train[:1]), ids, pn[train[:1]])
    grid = captured.pop()
    probe = nn.Sequential(nn.LayerNorm(grid.shape[-1]), nn.Flatten(), nn.Linear(grid.shape[1] * grid.shape[2], 256),
                          nn.GELU(), nn.Linear(256, len(TARGET_NAMES)))
    params = [p for p in model.parameters() if p.requires_grad] + list(probe.parameters())
    opt = torch.optim.AdamW(params, lr=s.lr, weight_decay=0.01)
    model.train()
    bar = tqdm(range(s.steps), desc="vision warm-up", disable=not progress)
    loss = torch.zeros(())
    for step in bar:
        lr = cosine_lr(step, s.lr, s.steps, warmup_steps=100)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = train[rng.integers(0, len(train), s.batch_size)]
        pred = model(pixels(idx), ids.expand(len(idx), -1), pn[idx])[:, 0]
        loss = torch.nn.functional.mse_loss(pred, tn[idx])
        probe_loss = torch.nn.functional.mse_loss(probe(captured.pop()), tn[idx])
        opt.zero_grad(set_to_none=True)
        (loss + probe_loss).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 50 == 0:
            bar.set_postfix(query=f"{loss.item():.4f}", grid=f"{probe_loss.item():.4f}")
    hook.remove()
    model.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, n_val, 64):
            idx = val[i:i + 64]
            preds.append(model(pixels(idx), ids.expand(len(idx), -1), pn[idx])[:, 0].numpy())
    pred = np.concatenate(preds) * stats.action_std + stats.action_mean
    true = targets[val]
    toy_err = np.linalg.norm(pred[:, :2] - true[:, :2], axis=1) * 100
    box_err = np.linalg.norm(pred[:, 4:6] - true[:, 4:6], axis=1) * 100
    blind = np.linalg.norm(true[:, :2] - stats.action_mean[:2], axis=1) * 100
    metrics = {"held_out": int(n_val), "toy_cm_median": float(np.median(toy_err)),
               "toy_cm_p90": float(np.percentile(toy_err, 90)), "box_cm_median": float(np.median(box_err)),
               "box_cm_p90": float(np.percentile(box_err, 90)), "toy_cm_median_blind": float(np.median(blind)),
               "final_loss": float(loss.item())}
    return model.backbone, metrics


# ----------------------------------------------------------------------------- CLI
def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m being_h0_train.posttrain.perception", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="post-training dataset (arm/hand poses and the camera frame size)")
    ap.add_argument("--out", required=True, help="directory for the warmed-up backbone (+ warmup.json)")
    ap.add_argument("--backbone", default="sim-small", help="backbone preset to start from")
    for f in ("samples", "steps", "batch_size", "lr", "seed", "jobs"):
        d = getattr(WarmUpSettings, f)
        ap.add_argument("--" + f.replace("_", "-"), type=type(d), default=d)
    ap.add_argument("--variation", choices=("seen", "train"), default=WarmUpSettings.variation,
                    help="pick_place_toy scene variation to render: seen (the bench's toy, table and camera) or "
                         "train (random toys, distractors, light, table, camera jitter; never the bench's "
                         "unseen/clutter objects)")
    return ap


def run(data: str | Path, out: str | Path, backbone_name: str, s: WarmUpSettings, progress: bool = True) -> dict:
    """The whole stage: render layouts posed like `data`, warm up `backbone_name`, save it to `out`."""
    from being_h0_runtime.policy.models.vla_config import BeingH0Config

    from .data import load_proprio_pool

    pool, frame_size = load_proprio_pool(data)
    cfg = BeingH0Config.preset(backbone_name)
    if cfg.max_dynamic_tiles != 1 or cfg.use_thumbnail:
        raise ValueError(f"vision warm-up renders single tiles; backbone {backbone_name!r} uses "
                         f"{cfg.max_dynamic_tiles} tiles (thumbnail={cfg.use_thumbnail})")
    t0 = time.monotonic()
    images, targets, rows = render_layouts(s.samples, frame_size, cfg.vision.image_size, pool, s.seed, s.jobs,
                                           progress, s.variation)
    t_render = time.monotonic() - t0
    backbone, metrics = warm_up(backbone_name, images, targets, rows, s, progress=progress)
    metrics.update(render_s=round(t_render, 1), train_s=round(time.monotonic() - t0 - t_render, 1))
    out = Path(out)
    backbone.save_pretrained(out)
    (out / "warmup.json").write_text(json.dumps({"settings": asdict(s), "backbone": backbone_name,
                                                 "frame_size": list(frame_size), "targets": TARGET_NAMES,
                                                 "metrics": metrics}, indent=2))
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    s = WarmUpSettings(samples=a.samples, steps=a.steps, batch_size=a.batch_size, lr=a.lr, seed=a.seed, jobs=a.jobs,
                       variation=a.variation)
    m = run(a.data, a.out, a.backbone, s)
    print(f"held-out toy position error: median {m['toy_cm_median']:.2f} cm, p90 {m['toy_cm_p90']:.2f} cm "
          f"(blind guess {m['toy_cm_median_blind']:.2f} cm); box median {m['box_cm_median']:.2f} cm")
    print(f"backbone: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
