"""`being-h0 dataset`: list, inspect, validate, recover and export recorded episodes."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

EPILOG = """\
An episode is a rosbag2 folder written by the recorder node (an .mcap file,
metadata.yaml and episode.json).  PATH arguments may be episode folders or
directories that contain them (searched recursively).

examples:
  being-h0 dataset list recordings/
  being-h0 dataset validate recordings/            # exit status 1 if any episode fails
  being-h0 dataset inspect recordings/pick_..._0003 --out /tmp/inspect
  being-h0 dataset recover recordings/pick_..._0007  # after a crash: rewrite a readable MCAP
  being-h0 dataset export recordings/ --out datasets/pick --rate 10
  being-h0 dataset lerobot recordings/ --out datasets/pick_lerobot --rate 10
  being-h0 dataset import h0_post_train_db_2508/ --out datasets/h0_post_train   # released zarr data
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="being-h0 dataset", description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("list", help="one line per episode: id, task, outcome, duration, messages, status")
    s.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s = sub.add_parser("inspect", help="metadata + trajectory plot PNG + frame strip PNG for one episode")
    s.add_argument("episode", type=Path)
    s.add_argument("--out", type=Path, default=None, help="folder for the PNGs (default: the episode folder)")
    s.add_argument("--frames", type=int, default=8, help="frames in the strip (default 8)")
    s = sub.add_parser("validate", help="check for missing topics, gaps, NaN, damaged files; exit 1 on errors")
    s.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    s.add_argument("--max-gap", type=float, default=0.5,
                   help="gap threshold floor in seconds (default 0.5); each topic's own threshold is "
                        "max(this, --gap-factor x its period)")
    s.add_argument("--gap-factor", type=float, default=5.0,
                   help="a gap is longer than this many of the topic's own periods (default 5)")
    s.add_argument("--startup", type=float, default=2.0,
                   help="seconds after the episode start a stream may take to begin (e.g. commands wait "
                        "for the policy's first chunk) before a warning (default 2)")
    s = sub.add_parser("recover", help="rewrite crashed/truncated episodes into finished MCAP files")
    s.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    for name, help_ in (("export", "post-training dataset (npz per episode + meta.json)"),
                        ("lerobot", "LeRobot v3.0 dataset (parquet + mp4)")):
        s = sub.add_parser(name, help=help_)
        s.add_argument("paths", nargs="+", type=Path, metavar="PATH")
        s.add_argument("--out", type=Path, required=True, help="output folder")
        s.add_argument("--rate", type=float, required=True, help="control rate in Hz to resample to")
        s.add_argument("--only-success", action="store_true", help="skip episodes not marked success")
    from .zarr_import_cli import add_import_parser

    add_import_parser(sub)
    return p


build_parser = _parser  # the name `being-h0 dataset` adopts


def main(argv: Sequence[str] | None = None) -> int:
    return run_parsed(_parser().parse_args(argv))


def _cmd_list(args: argparse.Namespace) -> int:
    from .bag import load_metadata
    from .quality import find_episodes

    rows = []
    for ep in find_episodes(args.paths):
        m = load_metadata(ep)
        rows.append({"path": str(ep), "episode_id": m.episode_id, "task": m.task_id, "outcome": m.outcome,
                     "duration_s": round(m.duration, 2), "messages": sum(m.message_counts.values()),
                     "status": m.status, "interventions": len(m.interventions),
                     "instruction": m.instruction})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'episode':44s} {'task':12s} {'outcome':8s} {'dur(s)':>7s} {'msgs':>7s} {'status':10s} instr")
        for r in rows:
            print(f"{r['episode_id']:44s} {r['task']:12s} {r['outcome']:8s} {r['duration_s']:7.1f} "
                  f"{r['messages']:7d} {r['status']:10s} {r['instruction']}")
        print(f"{len(rows)} episode(s), {sum(r['duration_s'] for r in rows):.1f} s")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .bag import load_metadata
    from .quality import frame_strip, plot_trajectory, validate_episode

    m = load_metadata(args.episode)
    out = args.out or args.episode
    out.mkdir(parents=True, exist_ok=True)
    print(m.model_dump_json(indent=2))
    print(f"trajectory plot: {plot_trajectory(args.episode, out / 'trajectory.png')}")
    print(f"frame strip:     {frame_strip(args.episode, out / 'frames.png', args.frames)}")
    for line in validate_episode(args.episode).lines():
        print(line)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from .quality import find_episodes, validate_episode

    bad = 0
    for ep in find_episodes(args.paths):
        rep = validate_episode(ep, max_gap_s=args.max_gap, gap_factor=args.gap_factor, startup_s=args.startup)
        bad += not rep.ok
        print("\n".join(rep.lines()))
    print(f"{bad} episode(s) with errors")
    return 1 if bad else 0


def _cmd_recover(args: argparse.Namespace) -> int:
    from .bag import recover_episode
    from .quality import find_episodes

    for ep in find_episodes(args.paths):
        m = recover_episode(ep)
        print(f"{ep}: {m.status}, {sum(m.message_counts.values())} messages")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    """`export` (our npz dataset) and `lerobot` (LeRobot v3.0)."""
    from .bag import load_metadata
    from .quality import find_episodes

    eps = find_episodes(args.paths)
    if args.only_success:
        eps = [e for e in eps if load_metadata(e).outcome == "success"]
    if not eps:
        print("no episodes to export", file=sys.stderr)
        return 2
    if args.command == "export":
        from .export import export_dataset

        info = export_dataset(eps, args.out, args.rate, skip_bad=True)
        print(f"{info.num_episodes} episode(s), {info.num_frames} frames at {info.fps} Hz -> {args.out}")
        for s in info.skipped:
            print(f"skipped: {s}")
    else:
        from .lerobot import export_lerobot

        info = export_lerobot(eps, args.out, args.rate)
        print(f"{info['total_episodes']} episode(s), {info['total_frames']} frames -> {args.out} (LeRobot v3.0)")
    return 0


_COMMANDS = {"list": _cmd_list, "inspect": _cmd_inspect, "validate": _cmd_validate, "recover": _cmd_recover,
             "export": _cmd_export, "lerobot": _cmd_export}


def run_parsed(args: argparse.Namespace) -> int:
    """Run the dataset subcommand `args` (from build_parser) names."""
    if args.command == "import":
        from .zarr_import_cli import run_import

        return run_import(args)
    command = _COMMANDS.get(args.command)
    if command is None:
        return 2
    try:
        return command(args)
    except (FileNotFoundError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

if __name__ == "__main__":
    raise SystemExit(main())
