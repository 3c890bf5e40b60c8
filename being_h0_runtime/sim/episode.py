"""Pure-simulation episode loop for the scripted expert (no ROS, no nodes).

This is the reference execution model that tests and benchmarks use: every
control period (1 / control_rate_hz) the next chunk row becomes the arm and
hand target, the physics advances in between, and the expert is asked for a
fresh chunk every `replan_every` rows (half a chunk by default).

Run `python -m being_h0_runtime.sim.episode --help` for the success-rate sweep.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np

from .expert import ScriptedPickPlaceExpert
from .task_experts import make_expert
from .world import TASK_VARIATIONS, TASKS, VARIATIONS, VirtualRig


@dataclass
class EpisodeResult:
    success: bool
    seconds: float  # simulated seconds until success (or until the time limit)
    steps: int  # control steps executed


def proprio_of(rig: VirtualRig) -> np.ndarray:
    """13-dim proprio: 7 arm joint angles (rad) + 6 hand closures (0 open .. 1 closed)."""
    return np.r_[rig.arm_q(), rig.hand_closure()]


def run_expert_episode(
    rig: VirtualRig,
    expert: ScriptedPickPlaceExpert,
    max_seconds: float = 30.0,
    replan_every: int | None = None,
    settle_seconds: float = 0.3,
) -> EpisodeResult:
    """Run the expert on `rig` (already reset) until success or `max_seconds` of sim time.

    Success must hold for `settle_seconds` (the toy resting in the box), so a toy
    bouncing through the box does not count.
    """
    replan_every = replan_every or max(1, expert.chunk_len // 2)
    n_sub = max(1, round(expert.dt / rig.physics_dt))
    expert.reset()
    t0 = rig.time
    chunk: np.ndarray | None = None
    row = 0
    steps = 0
    success_since: float | None = None
    while rig.time - t0 < max_seconds:
        if chunk is None or row >= replan_every or row >= len(chunk):
            chunk = expert.act(proprio_of(rig), rig.object_poses())
            row = 0
        rig.set_arm_target(chunk[row, :7])
        rig.set_hand_target(chunk[row, 7:13])
        row += 1
        rig.step(n_sub)
        steps += 1
        if rig.success():
            success_since = rig.time if success_since is None else success_since
            if rig.time - success_since >= settle_seconds - 1e-9:
                return EpisodeResult(True, rig.time - t0, steps)
        else:
            success_since = None
    return EpisodeResult(False, rig.time - t0, steps)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m being_h0_runtime.sim.episode",
        description=(
            "Measure the scripted expert's success rate on the virtual rig. Each trial resets the "
            "rig with seed = first_seed + i, runs the expert with 16-step chunks at 10 Hz (re-planning "
            "every 8 steps) and reports success, sim seconds, wall seconds and the real-time factor."
        ),
        epilog=("Examples: python -m being_h0_runtime.sim.episode --trials 20 --variation unseen\n"
                "          python -m being_h0_runtime.sim.episode --task pour_cup --trials 20\n"
                "Variations per task: " + "; ".join(f"{t}: {', '.join(v)}" for t, v in TASK_VARIATIONS.items())),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--task", choices=TASKS, default="pick_place_toy",
                    help="virtual-rig task; its scripted expert is chosen to match (default pick_place_toy)")
    ap.add_argument("--trials", type=int, default=20, help="number of seeds to run (default 20)")
    ap.add_argument("--first-seed", type=int, default=0, help="seed of the first trial (default 0)")
    ap.add_argument("--variation", choices=VARIATIONS, default="seen", help="scene variation (default seen; train: per-seed randomised "
                    "toy, colours, distractors, light, table, camera jitter)")
    ap.add_argument("--max-seconds", type=float, default=30.0, help="sim-time limit per episode (default 30)")
    ap.add_argument("--quiet", action="store_true", help="print only the summary line")
    args = ap.parse_args(argv)
    if args.trials < 1:
        ap.error("--trials must be >= 1")
    if args.variation not in TASK_VARIATIONS[args.task]:
        ap.error(f"--variation {args.variation} does not exist for --task {args.task} "
                 f"(allowed: {', '.join(TASK_VARIATIONS[args.task])})")
    rig = VirtualRig(task=args.task, variation=args.variation, seed=args.first_seed)
    expert = make_expert(args.task)
    wins, sims, walls = 0, [], []
    for i in range(args.trials):
        seed = args.first_seed + i
        rig.reset(seed)
        t = time.perf_counter()
        res = run_expert_episode(rig, expert, max_seconds=args.max_seconds)
        wall = time.perf_counter() - t
        wins += res.success
        sims.append(res.seconds)
        walls.append(wall)
        if not args.quiet:
            print(f"seed {seed:4d}  success={res.success!s:5}  sim={res.seconds:6.2f}s  wall={wall:5.2f}s  "
                  f"rtf={res.seconds / wall:5.1f}x  last_phase={expert.last_phase}")
    rtf = np.array(sims) / np.array(walls)
    print(f"task={args.task} variation={args.variation} success {wins}/{args.trials} = {wins / args.trials:.0%}; "
          f"sim s/episode p50={np.median(sims):.1f}; wall s/episode p50={np.median(walls):.2f} "
          f"p99={np.percentile(walls, 99):.2f}; real-time factor p50={np.median(rtf):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
