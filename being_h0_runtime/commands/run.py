"""`being-h0 run`: one task episode on a launch profile; exit 0 on success, 1 on failure."""

from __future__ import annotations

import argparse
import time
from typing import Any

from .tree import new_parser

HELP = "run one task episode on a profile"
DESCRIPTION = """\
Run one task episode and print the outcome; exit 0 on success, 1 on failure, 3 when the graph did
not come up.  With --transport dds (default) every node is its own process over Cyclone DDS; with
inproc the whole graph runs in this process, deterministic for a given --seed."""
EXAMPLES = """\
  being-h0 run                                   the virtual rig, the profile's policy, one process per node
  being-h0 run --transport inproc --seed 3       the same episode in one deterministic process
  being-h0 run --expert --view                   the scripted expert, with a Foxglove live view
  being-h0 run --set arm.rate_hz=200 -v          override a node parameter, stream node logs
  being-h0 run --profile rig --engine models/pp  the real rig (the operator judges success)
  being-h0 run --expert --teleop keyboard --record demos/dagger   DAgger: take over from the policy
"""


def register(sub: Any) -> None:
    sub.add_lazy("run", HELP, build_parser)


def build_parser(prog: str) -> argparse.ArgumentParser:
    from ..teleop.cli import add_run_args
    from ..view.live import add_view_args
    from .policy_args import add_policy_args

    p = new_parser(prog, DESCRIPTION, EXAMPLES)
    p.add_argument("--profile", default="sim", help="launch profile name (launch/NAME.yaml) or path")
    p.add_argument("--transport", default="dds", choices=["dds", "inproc"],
                     help="dds: one process per node (default); inproc: one deterministic process")
    p.add_argument("--seed", type=int, default=0, help="scene seed (virtual rig)")
    p.add_argument("--time-limit", type=float, default=None, help="override the task time limit (s)")
    p.add_argument("--domain-id", type=int, default=None,
                     help="DDS domain (default: the profile's dds.domain_id; sim: a fresh one in 102..231)")
    p.add_argument("--run-dir", default=None, help="where node logs and runtime files go (default: a new "
                                                     "temporary folder)")
    p.add_argument("--startup-timeout", type=float, default=60.0, help="seconds the graph may take to come up")
    p.add_argument("--verbose", "-v", action="store_true", help="stream node logs to the terminal")
    add_policy_args(p)
    add_view_args(p)
    add_run_args(p)  # --teleop DEVICE: the operator may take over from the policy (DAgger)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..launch import load_profile
    from .policy_args import overrides_for_policy

    profile = load_profile(args.profile)
    overrides = overrides_for_policy(args)
    if getattr(args, "teleop", None):
        from ..teleop.cli import run_with_teleop

        return run_with_teleop(args, overrides)
    if args.time_limit:
        overrides.setdefault("task", {})["time_limit_s"] = args.time_limit
    print(f"being-h0 run: profile {profile.name} ({profile.rig} rig), task {profile.task.task_id!r}, "
          f"seed {args.seed}, transport {args.transport}", flush=True)
    from ..view.live import live_view_from_args

    view = args.view_session = live_view_from_args(args)  # --view: Foxglove live view (being_h0_runtime/view)
    try:
        return _run_episode(profile, args, overrides, view)
    finally:
        if view is not None:
            view.close()


def _print_status(st: Any, t0: float) -> None:
    print(f"[{time.monotonic() - t0:6.1f} s] episode {st.episode} {st.state:<9} task-time {st.elapsed:5.1f} s  {st.message}",
          flush=True)


def _run_episode(profile: Any, args: argparse.Namespace, overrides: dict[str, dict[str, Any]], view: Any) -> int:
    if args.transport == "inproc":
        from ..operator import run_episode_inproc

        t0 = time.monotonic()
        last = {"state": ""}

        def on_status(st: Any) -> None:
            if st.state != last["state"]:
                last["state"] = st.state
                _print_status(st, t0)

        out = run_episode_inproc(args.profile, seed=args.seed, overrides=overrides, on_status=on_status,
                                 setup=(lambda ctx, nodes: view.attach(ctx)) if view else None)
    else:
        from .run_dds import run_dds

        out = run_dds(profile, args, overrides)
        if out is None:
            return 3
    verdict = "SUCCESS" if out.success else "FAILURE"
    print(f"outcome: {verdict} ({out.state}: {out.message}); {out.sim_seconds:.1f} s task time, "
          f"{out.wall_seconds:.1f} s wall", flush=True)
    return 0 if out.success else 1
