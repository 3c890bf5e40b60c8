"""`being-h0 launch PROFILE`: start a profile's node graph and keep it running (s starts an episode, q quits)."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from .. import interrupts
from .tree import new_parser

HELP = "start a profile's node graph (one process per node over DDS)"
DESCRIPTION = """\
Start every node of a launch profile as its own process over Cyclone DDS and keep the graph
running: s starts an episode, a aborts it, e or space latches the e-stop, r resets, q quits.
Ctrl-C (or SIGTERM) stops the graph in order, actuators last."""
EXAMPLES = """\
  being-h0 launch sim                       the virtual rig
  being-h0 launch sim --view                the same, with a Foxglove live view
  being-h0 launch rig --engine models/pp    the real rig with a converted engine
"""


def register(sub: Any) -> None:
    sub.add_lazy("launch", HELP, build_parser)


def build_parser(prog: str) -> argparse.ArgumentParser:
    from ..view.live import add_view_args
    from .policy_args import add_policy_args

    la = new_parser(prog, DESCRIPTION, EXAMPLES)
    la.add_argument("profile", help="launch profile name (launch/NAME.yaml) or path")
    la.add_argument("--domain-id", type=int, default=None,
                    help="DDS domain (default: the profile's dds.domain_id; sim: a fresh one in 102..231)")
    la.add_argument("--run-dir", default=None, help="where node logs go (default: a new temporary folder)")
    add_policy_args(la)
    add_view_args(la)
    la.set_defaults(func=run)
    return la


def run(args: argparse.Namespace) -> int:
    from ..console import launch_streams_logs, run_launch
    from ..launch import load_profile
    from ..launcher import GraphLauncher, report_deaths
    from ..logs import add_run_log
    from ..operator import OperatorConsole
    from ..view.live import live_view_from_args
    from .policy_args import overrides_for_policy
    from .run_dds import abort_dead, latch

    profile = load_profile(args.profile)
    run_dir = Path(args.run_dir) if args.run_dir else Path(tempfile.mkdtemp(prefix="being_h0_launch_"))
    add_run_log(run_dir)  # this process's log beside the node logs
    launcher = GraphLauncher(profile, run_dir, domain_id=args.domain_id, overrides=overrides_for_policy(args),
                             log_level=args.log_level)
    print(f"launching {profile.name}: {', '.join(profile.nodes)} (logs in {run_dir}); q quits, Ctrl-C stops", flush=True)
    print(launcher.network_summary(), flush=True)
    view = live_view_from_args(args)  # --view: Foxglove live view (being_h0_runtime/view)
    ctx = None
    try:  # from the first process on: a Ctrl-C at any moment still stops the graph in order
        launcher.start(stream_logs=launch_streams_logs())  # on a terminal the console shows them above its status line
        ctx = launcher.context(use_sim_time=profile.use_sim_time)
        console = OperatorConsole(ctx.create_node("launch_console"), operator=os.environ.get("USER", "operator"))
        if view is not None:
            view.attach(ctx)
        return run_launch(launcher, ctx, console, profile, args.log_level,
                          on_dead=lambda: abort_dead(launcher, console, ctx),
                          is_dead=lambda: report_deaths(launcher, launcher.poll(), latch(console, ctx)))
    except KeyboardInterrupt:
        interrupts.acknowledge()
        print("\nCtrl-C: stopping the graph (actuators last)", flush=True)
        return 0
    finally:
        if view is not None:
            view.close()
        launcher.shutdown()
        if ctx is not None:
            ctx.shutdown()
