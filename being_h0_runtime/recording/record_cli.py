"""`being-h0 record`: record demonstrations on the virtual rig with a scripted operator.

Each episode runs the whole node graph (virtual rig, camera, arm, hand,
inference, task) plus the recorder node, exactly the recording path used
with a human teleoperating the real rig; the scripted expert takes the
operator's place.  Episodes are rosbag2/MCAP folders; `--export` turns the
successful ones into a post-training dataset.

Examples:
  being-h0 record --episodes 20 --out demos/pick_place
  being-h0 record --episodes 5 --out demos/pp --variation unseen --seed-base 1000 --export data/pp
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from tqdm import tqdm


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="being-h0 record", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=10, help="how many episodes to record")
    ap.add_argument("--out", required=True, help="folder for the episode folders (created if missing)")
    ap.add_argument("--profile", default="sim", help="launch profile (virtual rig)")
    ap.add_argument("--variation", default=None, help="scene variation: seen | unseen | clutter")
    ap.add_argument("--seed-base", type=int, default=0, help="episode i uses seed seed-base + i")
    ap.add_argument("--camera-rate", type=float, default=10.0, help="camera frames per second to record")
    ap.add_argument("--keep-failures", action="store_true", help="keep failed episodes too (tagged 'failure')")
    ap.add_argument("--export", default=None, metavar="DIR", help="export the kept episodes to a dataset here")
    ap.add_argument("--control-rate", type=float, default=10.0, help="dataset rate (Hz) for --export")
    return ap


def record_episodes(out: Path, episodes: int, profile: str = "sim", seed_base: int = 0,
                    variation: str | None = None, camera_rate_hz: float = 10.0, keep_failures: bool = False,
                    progress: bool = True) -> list[Path]:
    """Record `episodes` scripted episodes; returns the kept episode folders."""
    from ..operator import run_episode_inproc
    from .recorder import RecorderNode, RecorderParams

    os.environ.setdefault("MUJOCO_GL", "egl")
    out.mkdir(parents=True, exist_ok=True)
    rig = {"camera_rate_hz": camera_rate_hz, "hand_baudrate": None}
    if variation:
        rig["variation"] = variation
    kept: list[Path] = []
    bar = tqdm(range(episodes), desc="recording", unit="ep", disable=not progress)
    successes = 0
    for i in bar:
        holder: dict[str, RecorderNode] = {}

        def add_recorder(ctx, nodes, holder=holder):
            holder["rec"] = RecorderNode(ctx.create_node("recorder"),
                                         RecorderParams(output_dir=out, operator="scripted-expert", min_free_bytes=0))

        outcome = run_episode_inproc(profile, seed=seed_base + i, episode=i + 1, overrides={"virtual_rig": rig},
                                     setup=add_recorder)
        rec = holder["rec"]
        rec.close()
        successes += outcome.success
        folder = rec.last_episode_dir
        if folder is not None:
            if outcome.success or keep_failures:
                kept.append(folder)
            else:
                import shutil

                shutil.rmtree(folder, ignore_errors=True)
        bar.set_postfix(success=f"{successes}/{i + 1}", kept=len(kept))
    return kept


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    kept = record_episodes(Path(args.out), args.episodes, args.profile, args.seed_base, args.variation,
                           args.camera_rate, args.keep_failures)
    print(f"kept {len(kept)} of {args.episodes} episodes in {args.out}")
    if args.export:
        if not kept:
            print("error: nothing to export", file=sys.stderr)
            return 1
        from .export import export_dataset

        info = export_dataset(kept, args.export, args.control_rate)
        print(f"dataset: {info.num_episodes} episodes, {info.num_frames} frames at {info.fps:g} Hz in {args.export}")
    return 0 if kept else 1


if __name__ == "__main__":
    sys.exit(main())
