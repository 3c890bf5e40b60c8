"""`being-h0 teleop`, `being-h0 run --teleop DEVICE` and `being-h0 record --teleop DEVICE`.

  being-h0 teleop --device keyboard                  drive the virtual rig's arm and hand from the terminal
  being-h0 teleop --device spacemouse --scale 0.5    a 3Dconnexion SpaceMouse, half speed
  being-h0 teleop --device webcam --model hand_landmarker.task
  being-h0 teleop --device video:hand.mp4 --model hand_landmarker.task   a video stands in for the webcam
  being-h0 teleop --device video:hand.avi --hand-detector solutions  mediapipe<=0.10.21's own models, no download
  being-h0 record --teleop keyboard --episodes 5 --out demos/pp          human demonstrations
  being-h0 run --expert --teleop keyboard --record dagger/               DAgger: take over from the policy

The graph runs in one process, paced to the wall clock.  The device's
clutch (space on the keyboard and webcam, the left button on the
SpaceMouse) is the takeover: the robot follows the operator only while it
is on.  During `run --teleop` the policy drives until the operator takes
over; its chunk is cut at once, the operator's commands run, and the
takeover is recorded as an intervention segment (episode.json, and the
`intervention` column of `dataset export`), which post-training can weight
(`--intervention-weight`).  Limits: every command goes through the arm and
hand nodes' safety supervisor (joint, velocity, workspace box).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from .devices import FAMILIES, DeviceError, device_help, make_device, parse_spec


def add_device_args(p: argparse.ArgumentParser, flag: str, required: bool) -> None:
    p.add_argument(flag, required=required, metavar="DEVICE",
                   help="keyboard | spacemouse | webcam[:INDEX] | video:FILE (see `being-h0 teleop --help`)")
    p.add_argument("--scale", type=float, default=None, help="multiply the operator's translations (0.5 = fine work)")
    p.add_argument("--model", default=None, metavar="FILE",
                   help="MediaPipe hand_landmarker.task for webcam/video (default: $BEING_H0_HAND_LANDMARKER)")
    p.add_argument("--hand-detector", choices=("auto", "tasks", "solutions"), default=None,
                   help="webcam/video: tasks = MediaPipe Tasks with --model; solutions = the hand models inside "
                        "the mediapipe wheel (<= 0.10.21, no download); auto (default): tasks if a model is given")
    p.add_argument("--device-rate", type=float, default=None, metavar="HZ", help="device frames per second")


def open_device(spec: str, args: argparse.Namespace):
    settings: dict[str, Any] = {"scale": args.scale, "rate_hz": args.device_rate}
    if parse_spec(spec)[0] in ("webcam", "video"):
        settings["model_path"] = args.model
        settings["hand_detector"] = getattr(args, "hand_detector", None)
    device = make_device(spec, **settings)
    print(device_help(parse_spec(spec)[0]), flush=True)
    return device


def _status_line(text: str) -> None:
    if sys.stdout.isatty():
        print("\r" + text[:160].ljust(160), end="", flush=True)
    else:
        print(text, flush=True)


def cmd_teleop(args: argparse.Namespace) -> int:
    from ..teleop_session import TeleopSession

    try:
        device = open_device(args.device, args)
    except DeviceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    record = Path(args.record) if args.record else None
    with TeleopSession(device, args.profile, seed=args.seed, record_dir=record, time_limit_s=args.time_limit,
                       realtime=not args.as_fast_as_possible) as s:
        res = s.run(max_seconds=args.max_seconds, status=_status_line)
    print(f"\nteleop: {res.state} ({res.message}); {res.sim_seconds:.1f} s, {res.frames_sent} device frames"
          + (f"; episode {res.episode_dir}" if res.episode_dir else ""), flush=True)
    return 0


def build_parser(prog: str = "being-h0 teleop") -> argparse.ArgumentParser:
    """The parser of `being-h0 teleop` (the examples are the module docstring's)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__ + "\n" + "\n\n".join(device_help(f) for f in FAMILIES[:3]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_device_args(p, "--device", required=True)
    p.add_argument("--profile", default="sim", help="launch profile (virtual rig)")
    p.add_argument("--seed", type=int, default=0, help="scene seed")
    p.add_argument("--time-limit", type=float, default=600.0, help="task time limit in seconds (default 600)")
    p.add_argument("--max-seconds", type=float, default=None, help="stop after this much task time")
    p.add_argument("--record", default=None, metavar="DIR", help="also record the session as an episode in DIR")
    p.add_argument("--as-fast-as-possible", action="store_true",
                   help="do not pace the simulation to the wall clock (video files, tests)")
    p.set_defaults(func=cmd_teleop)
    return p


def add_run_args(run: argparse.ArgumentParser) -> None:
    """`being-h0 run --teleop DEVICE [--record DIR]`: the policy runs, the operator may take over (DAgger)."""
    g = run.add_argument_group("operator takeover (DAgger)")
    g.add_argument("--teleop", default=None, metavar="DEVICE",
                   help="run in one process with this device; its clutch takes over from the policy "
                        "(keyboard | spacemouse | webcam[:INDEX] | video:FILE)")
    g.add_argument("--record", default=None, metavar="DIR",
                   help="with --teleop: record the episode, takeovers marked as intervention segments")
    g.add_argument("--scale", type=float, default=None, help="with --teleop: scale the operator's translations")
    g.add_argument("--model", default=None, metavar="FILE", help="with --teleop webcam/video: hand_landmarker.task")
    g.add_argument("--hand-detector", choices=("auto", "tasks", "solutions"), default=None,
                   help="with --teleop webcam/video: see `being-h0 teleop --help`")
    g.add_argument("--device-rate", type=float, default=None, metavar="HZ", help=argparse.SUPPRESS)


def run_with_teleop(args: argparse.Namespace, overrides: dict[str, dict[str, Any]]) -> int:
    """`being-h0 run --teleop DEVICE`: the policy drives, the operator takes over with the device's clutch."""
    from ..teleop_session import TeleopSession

    try:
        device = open_device(args.teleop, args)
    except DeviceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("the policy drives; close the clutch to take over, open it to give control back", flush=True)
    with TeleopSession(device, args.profile, seed=args.seed, policy=True, overrides=overrides,
                       record_dir=Path(args.record) if args.record else None,
                       time_limit_s=args.time_limit) as s:
        res = s.run(status=_status_line)
    print(f"\noutcome: {'SUCCESS' if res.success else 'FAILURE'} ({res.state}: {res.message}); "
          f"{len(res.interventions)} takeover(s)" + (f"; episode {res.episode_dir}" if res.episode_dir else ""),
          flush=True)
    return 0 if res.success else 1


def record_teleop(args: argparse.Namespace) -> list[Path]:
    """`being-h0 record --teleop DEVICE`: `--episodes` human demonstrations, one task episode each."""
    from ..teleop_session import TeleopSession

    device = open_device(args.teleop, args)
    out = Path(args.out)
    kept: list[Path] = []
    try:
        for i in range(args.episodes):
            print(f"\nepisode {i + 1}/{args.episodes} (seed {args.seed_base + i}): the arm homes, then it is "
                  "yours; q ends the session", flush=True)
            over: dict[str, dict[str, Any]] = {"virtual_rig": {"camera_rate_hz": args.camera_rate}}
            if args.variation:
                over["virtual_rig"]["variation"] = args.variation
            with TeleopSession(device, args.profile, seed=args.seed_base + i, record_dir=out, episode=i + 1,
                               overrides=over, close_device=False, time_limit_s=args.time_limit,
                               realtime=not args.as_fast_as_possible) as s:
                res = s.run(max_seconds=args.max_seconds, status=_status_line)
            folder = res.episode_dir
            print(f"\nepisode {i + 1}: {res.state} ({res.message})", flush=True)
            if folder is not None and not (res.success or args.keep_failures):
                shutil.rmtree(folder, ignore_errors=True)
                folder = None
            if folder is not None:
                kept.append(folder)
            if device.quit_requested:
                break
    finally:
        device.close()
    return kept
