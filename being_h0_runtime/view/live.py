"""The live view: a Foxglove WebSocket server fed by `ViewBridge` nodes, and `being-h0 view`.

Two ways in:

* ``being-h0 run --view`` / ``being-h0 launch sim --view``: the operator process starts the server and adds a
  bridge node to its own DDS context (`LiveView.attach`).
* ``being-h0 view --domain-id N --graph-id X``: attach to a graph that is already running (``run`` and
  ``launch`` print ``DDS: ..., domain N, graph X``).  The graph id matters: arm/hand commands, action chunks
  and the e-stop travel in the DDS partition ``being_h0.<graph id>`` (`transport.dds.is_graph_scoped`), so a
  view without it would show camera and joint states but no commands.

Open it in Foxglove: Open connection -> Foxglove WebSocket -> ws://127.0.0.1:8765, then import the layout
docs/foxglove_layout.json (the same layout opens a recorded episode's MCAP).
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import time
from typing import Any

from ..config import ConfigError
from .bridge import ImageMode, ViewBridge, ViewChannels

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765  # Foxglove's default WebSocket port
LAYOUT_FILE = "docs/foxglove_layout.json"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listener(view: LiveView) -> Any:
    """A Foxglove ServerListener that replays latched topics to a client that subscribes late."""
    from foxglove.websocket import ServerListener

    class ReplayLatched(ServerListener):
        def on_subscribe(self, client: Any, channel: Any) -> None:
            view.channels.replay_latched(channel.id)

    return ReplayLatched()


class LiveView:
    """A running Foxglove WebSocket server; `attach` adds a bridge node to a transport context."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, images: ImageMode = "jpeg",
                 name: str = "being-h0", out: Any = None) -> None:
        try:
            import foxglove
        except ImportError:
            raise ConfigError("the live view needs foxglove-sdk: pip install -e '.[view]'") from None

        self.out = out = out or sys.stdout
        self.images = images
        self.bridges: list[ViewBridge] = []
        self.context = foxglove.Context()
        self.channels = ViewChannels(self.context, images)  # before the server: see ViewChannels
        if not _is_loopback(host):
            from .. import netguard

            if netguard.loopback_only():  # tests, CI, sim benches: nothing of this machine is served to a network
                raise ConfigError(f"live view: --view-host {host} is not loopback and {netguard.ENV} is set; "
                                  f"the view stays on 127.0.0.1 in loopback-only mode")
            print(f"warning: the live view listens on {host}:{port} without authentication or encryption: anyone "
                  f"who can reach this machine on that network can watch the camera, the arm and the task "
                  f"(omit --view-host to keep it on 127.0.0.1)", file=sys.stderr, flush=True)
        try:
            self.server = foxglove.start_server(name=name, host=host, port=port, context=self.context,
                                                server_listener=_listener(self))
        except Exception as e:  # noqa: BLE001 -- the SDK raises its own error types (address in use, bad host)
            raise ConfigError(f"live view: cannot listen on {host}:{port}: {e} (another view running? "
                              f"pick a port with --view-port)") from None
        self.host, self.port = host, self.server.port
        print(f"live view: Foxglove WebSocket on ws://{host}:{self.port} (Foxglove: Open connection -> "
              f"Foxglove WebSocket; layout {LAYOUT_FILE})", file=out, flush=True)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def attach(self, ctx: Any, node_name: str = "foxglove_view") -> ViewBridge:
        bridge = ViewBridge(ctx.create_node(node_name), self.channels)
        self.bridges.append(bridge)
        return bridge

    def close(self) -> None:
        sent = {f.channel.topic(): f.sent for f in self.channels.forwards.values() if f.sent}
        self.server.stop()
        self.channels.close()
        print(f"live view: closed; messages sent: {sent or 'none'}", file=self.out, flush=True)


def add_view_args(p: argparse.ArgumentParser, *, flag: bool = True) -> None:
    """--view (when `flag`), --view-host, --view-port, --view-images for run / launch / view."""
    if flag:
        p.add_argument("--view", action="store_true",
                       help="serve a live Foxglove view (camera, joints, commands, action chunk, safety, task) "
                            f"on ws://HOST:PORT; layout: {LAYOUT_FILE}")
    p.add_argument("--view-host", default=DEFAULT_HOST,
                   help="address the live view listens on (default 127.0.0.1; anything else lets everyone on "
                        "that network watch)")
    p.add_argument("--view-port", type=int, default=DEFAULT_PORT, help="live view port (default 8765; 0: any free)")
    p.add_argument("--view-images", choices=["jpeg", "raw"], default="jpeg",
                   help="camera frames as recorded (jpeg: sensor_msgs/CompressedImage on <topic>/compressed, what the "
                        "shipped layout shows) or raw sensor_msgs/Image on <topic> (~27 MB/s at 640x480x30)")


def live_view_from_args(args: argparse.Namespace) -> LiveView | None:
    """A started LiveView when --view was given (or always, for `being-h0 view`), else None."""
    if not getattr(args, "view", True):
        return None
    return LiveView(args.view_host, args.view_port, args.view_images)


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
    except KeyboardInterrupt:
        pass
    finally:
        if view is not None:
            view.close()
        ctx.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
