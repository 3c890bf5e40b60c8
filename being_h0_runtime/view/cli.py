"""`being-h0 view`: attach a live Foxglove view to a graph that is already running.

The application half of the live view: it reads a launch profile's dds: section and joins the graph's DDS
domain and partition, then hands the context to `view.live.LiveView` (the server and its bridge nodes, which
know nothing of profiles or launching).
"""

from __future__ import annotations

import argparse
import sys
import time

from .. import interrupts
from .live import LAYOUT_FILE, add_view_args, live_view_from_args


def build_parser() -> argparse.ArgumentParser:
    """The parser of `being-h0 view`."""
    ap = argparse.ArgumentParser(
        prog="being-h0 view", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Attach a live Foxglove view to a graph started by `being-h0 run` or `being-h0 launch`.\n"
                    "They print the two numbers it needs:  DDS: ..., domain N, graph X\n\n"
                    "  being-h0 view --domain-id 150 --graph-id 1a2b3c4d\n\n"
                    "Then in Foxglove: Open connection -> Foxglove WebSocket -> ws://127.0.0.1:8765, and import\n"
                    f"{LAYOUT_FILE} (the same layout opens a recorded episode). Ctrl-C stops the view, not the graph.")
    ap.add_argument("--domain-id", type=int, required=True, help="the graph's DDS domain (from 'DDS: ..., domain N')")
    ap.add_argument("--graph-id", required=True,
                    help="the graph's id (from 'graph X'): commands, action chunks and the e-stop are only visible "
                         "inside the graph's DDS partition")
    ap.add_argument("--profile", default="sim",
                    help="launch profile whose dds: section (interface) to use (default sim: loopback)")
    ap.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    add_view_args(ap, flag=False)
    return ap


def main(argv: list[str] | None = None) -> int:
    """`being-h0 view`: attach a live Foxglove view to a running graph."""
    return run_parsed(build_parser().parse_args(argv))


def run_parsed(args: argparse.Namespace) -> int:
    """Attach the view `args` (from build_parser) describe; runs until Ctrl-C or --duration."""

    from ..launch import load_profile
    from ..transport.dds import DdsContext

    profile = load_profile(args.profile)
    ctx = DdsContext(domain_id=args.domain_id, network=profile.dds, graph_id=args.graph_id)
    view = None
    try:
        view = live_view_from_args(args)
        assert view is not None
        view.attach(ctx)
        print(f"attached to DDS domain {args.domain_id}, graph {args.graph_id} ({profile.dds.describe()}); "
              f"Ctrl-C stops", flush=True)
        end = None if args.duration is None else time.monotonic() + args.duration
        while end is None or time.monotonic() < end:
            ctx.spin_once(0.1)
            interrupts.raise_if_requested()
    except KeyboardInterrupt:
        interrupts.acknowledge()
    finally:
        if view is not None:
            view.close()
        ctx.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
