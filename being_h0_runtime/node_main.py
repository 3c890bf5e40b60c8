"""Entry point of one node process (spawned by `being-h0 launch`).

    python -m being_h0_runtime.node_main --profile launch/sim.yaml --node arm --run-dir runs/x

Builds the node from the profile over the dds transport and spins until
SIGINT/SIGTERM; on the way out the node shuts down (actuator nodes hold, then release hardware).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .config import ConfigError
from .drivers.base import DriverError
from .netguard import NonLoopbackTraffic
from .launch import load_profile
from .nodes.base import build_node

#: how long a node waits for its profile's `wait_for_files` before giving up
WAIT_FOR_FILES_S = 120.0


def _die_with_parent() -> None:
    """Ask Linux to send us SIGTERM when the launcher dies (prctl PR_SET_PDEATHSIG), even mid start-up."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the getppid() check in the spin loop still catches it


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", required=True, help="launch profile name or YAML path")
    ap.add_argument("--node", required=True, help="node name in the profile")
    ap.add_argument("--run-dir", required=True, help="directory for this launch's runtime files")
    ap.add_argument("--domain-id", type=int, default=None,
                    help="DDS domain id (default: the profile's dds.domain_id, else ROS_DOMAIN_ID or 0)")
    ap.add_argument("--graph-id", default=None,
                    help="the launch this node belongs to: command topics are exchanged only within it "
                         "(default: $BEING_H0_GRAPH_ID)")
    ap.add_argument("--params-json", default="{}", help="JSON object of parameter overrides for this node")
    ap.add_argument("--transport", default="dds", choices=["dds", "ros2", "auto"],
                    help="dds (Cyclone DDS, ROS 2 wire names), ros2 (rclpy), auto (ros2 when rclpy imports)")
    ap.add_argument("--log-level", default="INFO",
                    help="what reaches the terminal (DEBUG, INFO, WARNING, ...); the log file gets INFO or finer")
    ap.add_argument("--log-file", default=None,
                    help="this node's log file (default: RUN_DIR/NODE.log, where the launcher puts its output)")
    return ap


def _node_config(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    """(profile, the node's entry, its parameters) once the files it waits for exist; ConfigError otherwise."""
    profile = load_profile(args.profile)
    if args.node not in profile.nodes:
        raise ConfigError(f"{profile.source}: no node named {args.node!r}; nodes: {list(profile.nodes)}")
    run_dir = Path(args.run_dir)
    entry = profile.nodes[args.node]
    params = profile.node_params(args.node, run_dir, json.loads(args.params_json))
    # generous: the file's maker (the virtual rig's pty) may start slowly on a loaded machine;
    # the wait ends as soon as the file appears
    deadline = time.monotonic() + WAIT_FOR_FILES_S
    for f in profile.resolved_files(args.node, run_dir):
        while not Path(f).exists():
            if time.monotonic() > deadline:
                raise ConfigError(f"{args.node}: waited {WAIT_FOR_FILES_S:.0f} s for {f} to appear")
            time.sleep(0.05)
    return profile, entry, params


def _context(args: argparse.Namespace, profile: Any) -> Any:
    from .transport import create_context

    kwargs = {}
    if args.transport == "dds":
        # the profile's network (loopback unless it names an interface) and the launch's graph partition
        kwargs = {"network": profile.dds, "graph_id": args.graph_id}
    return create_context(args.transport, domain_id=args.domain_id,
                          use_sim_time=profile.node_uses_sim_time(args.node), **kwargs)


def ready_mark(run_dir: Path, node: str) -> Path:
    """The file a node process writes once its node is up (engine loaded, driver active)."""
    return run_dir / f"{node}.ready"


def mark_ready(run_dir: Path, node: str, pid: int) -> None:
    """Write-then-rename, so the launcher never reads half a mark; the pid tells a restart's mark from a stale one."""
    tmp = run_dir / f".{node}.ready.tmp"
    tmp.write_text(str(pid))
    os.replace(tmp, ready_mark(run_dir, node))


def _configure_logs(args: argparse.Namespace) -> bool:
    """The node's log file (<run dir>/<node>.log unless --log-file) and level; False after one line on stderr
    when --log-level is not a level."""
    from .logs import configure

    try:
        configure(args.log_level, Path(args.log_file or Path(args.run_dir) / f"{args.node}.log"), prefix=f"[{args.node}]")
    except ValueError as err:
        print(f"error: --log-level: {err}", file=sys.stderr)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    parent = os.getppid()  # at start-up: the launcher may die while this node is still being built
    stop = {"flag": False, "running": False}

    def on_signal(signum: int, _frame: object) -> None:
        if not stop["running"]:
            raise SystemExit(128 + signum)  # still starting up: nothing to hold yet, just go
        stop["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    _die_with_parent()
    if os.getppid() != parent:
        return 1
    if not _configure_logs(args):
        return 2
    log = logging.getLogger("being_h0.node_main")
    try:
        profile, entry, params = _node_config(args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    ctx = _context(args, profile)
    node = None
    from .bench.tracing import install_from_env

    install_from_env()  # `being-h0 bench e2e` sets BEING_H0_TRACE_DIR; a no-op otherwise
    try:
        handle = ctx.create_node(args.node, params)
        node = build_node(entry.type, handle, params, f"{profile.source}: nodes.{args.node}.params",
                          base_dir=profile.base_dir)
        node.bring_up()  # configure, activate (a failure half-way is released by shutdown below)
        mark_ready(Path(args.run_dir), args.node, os.getpid())
        log.info("%s (%s) up", args.node, entry.type)
        stop["running"] = True
        while not stop["flag"]:
            ctx.spin_once(0.05)
            if os.getppid() != parent:
                # the launcher died without stopping us (SIGKILL): an orphaned graph must not run on
                log.error("launcher (pid %d) is gone; shutting down", parent)
                break
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (DriverError, NonLoopbackTraffic) as err:
        # hardware missing or refusing (no camera, FCI unreachable, serial port busy): the message carries
        # the fix; a traceback would bury it. Exit 1, not 2: a restart policy may retry a driver failure.
        print(f"error: {args.node}: {err}", file=sys.stderr)
        return 1
    finally:
        if node is not None:
            node.shutdown()
        ctx.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
