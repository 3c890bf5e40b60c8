"""The live view: a Foxglove WebSocket server fed by `ViewBridge` nodes.

Two ways in:

* ``being-h0 run --view`` / ``being-h0 launch sim --view``: the operator process starts the server and adds a
  bridge node to its own DDS context (`LiveView.attach`).
* ``being-h0 view --domain-id N --graph-id X`` (`view.cli`: loads the profile, joins the DDS graph): attach to
  a graph that is already running (``run`` and ``launch`` print ``DDS: ..., domain N, graph X``).  The graph
  id matters: arm/hand commands, action chunks and the e-stop travel in the DDS partition
  ``being_h0.<graph id>`` (`transport.dds.is_graph_scoped`), so a view without it would show camera and joint
  states but no commands.

Open it in Foxglove: Open connection -> Foxglove WebSocket -> ws://127.0.0.1:8765, then import the layout
docs/foxglove_layout.json (the same layout opens a recorded episode's MCAP).
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
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
