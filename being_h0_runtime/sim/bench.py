"""Benchmark the virtual rig: physics real-time factor, expert latency, render time per frame.

Every figure is measured in this run, with a baseline measured alongside it:
  * physics: wall time of one 0.1 s control period through `VirtualRig.step`
    (servo slewing + mj_step) vs. bare `mujoco.mj_step` on the same model and
    state (the floor we cannot beat);
  * expert: wall time of one scripted-expert `act` call (16 IK solves), for `--task`'s expert;
  * render: colour+depth at 320x240 and 640x480; baseline = colour only.

Run `python -m being_h0_runtime.sim.bench --help`.
"""

from __future__ import annotations

import argparse
import sys
import time

import mujoco
import numpy as np

from .episode import proprio_of
from .task_experts import make_expert
from .world import TASKS, VirtualRig


def _pct(xs: list[float]) -> str:
    a = np.asarray(xs) * 1e3
    return f"p50={np.percentile(a, 50):7.2f} ms  p99={np.percentile(a, 99):7.2f} ms"


def bench_physics(episodes: int, task: str = "pick_place_toy") -> None:
    rig = VirtualRig(task=task, seed=0)
    ex = make_expert(task)
    n_sub = round(ex.dt / rig.physics_dt)
    step_t, raw_t, act_t, sim_s, wall_s = [], [], [], 0.0, 0.0
    for seed in range(episodes):
        rig.reset(seed)
        chunk, row = None, 8
        while rig.time < 30.0 and not rig.success():
            if row >= 8:
                t = time.perf_counter()
                chunk = ex.act(proprio_of(rig), rig.object_poses())
                act_t.append(time.perf_counter() - t)
                row = 0
            rig.set_arm_target(chunk[row, :7])
            rig.set_hand_target(chunk[row, 7:])
            row += 1
            # baseline: bare mj_step from the same state on a scratch copy
            scratch = mujoco.MjData(rig.model)
            mujoco.mj_copyData(scratch, rig.model, rig.data)
            t = time.perf_counter()
            mujoco.mj_step(rig.model, scratch, n_sub)
            raw_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            rig.step(n_sub)
            dt = time.perf_counter() - t
            step_t.append(dt)
            wall_s += dt
            sim_s += n_sub * rig.physics_dt
    print(f"physics  VirtualRig.step(0.1 s sim) {_pct(step_t)}   real-time factor {sim_s / wall_s:6.1f}x")
    print(f"baseline bare mj_step (0.1 s sim)   {_pct(raw_t)}   ratio step/bare p50 = "
          f"{np.median(step_t) / np.median(raw_t):.2f}")
    print(f"expert   act() (16-row chunk)       {_pct(act_t)}")


def bench_render(frames: int) -> None:
    for w, h in ((320, 240), (640, 480)):
        rig = VirtualRig(seed=0, image_size=(w, h))
        rig.render()  # context creation is not a per-frame cost
        both, rgb_only = [], []
        for i in range(frames):
            rig.step(5)
            t = time.perf_counter()
            rig.render()
            both.append(time.perf_counter() - t)
            t = time.perf_counter()
            rig.render_rgb()
            rgb_only.append(time.perf_counter() - t)
        print(f"render   {w}x{h} rgb+depth {_pct(both)}   baseline rgb-only {_pct(rgb_only)}   "
              f"ratio p50 = {np.median(both) / np.median(rgb_only):.2f}")
        rig.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m being_h0_runtime.sim.bench",
        description="Measure virtual-rig physics speed, scripted-expert latency and render time per frame "
        "(p50/p99 with a baseline from the same run). Single-threaded; run on an idle machine for stable figures.",
    )
    ap.add_argument("--episodes", type=int, default=3, help="expert episodes for the physics figures (default 3)")
    ap.add_argument("--frames", type=int, default=100, help="frames per render resolution (default 100)")
    ap.add_argument("--no-render", action="store_true", help="skip the render benchmark (no GL needed)")
    ap.add_argument("--task", choices=TASKS, default="pick_place_toy",
                    help="scene and scripted expert for the physics figures (default pick_place_toy)")
    args = ap.parse_args(argv)
    if args.episodes < 1 or args.frames < 1:
        ap.error("--episodes and --frames must be >= 1")
    bench_physics(args.episodes, args.task)
    if not args.no_render:
        bench_render(args.frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
