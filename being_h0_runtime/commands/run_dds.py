"""`being-h0 run --transport dds`: start the graph as one process per node, run one episode, stop it."""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from .. import interrupts


def run_dds(profile: Any, args: argparse.Namespace, overrides: dict[str, dict[str, Any]]) -> Any:
    """The episode's outcome (operator.EpisodeOutcome), or None when the graph did not come up in time
    or a node died (the e-stop is latched then, and the dead nodes' last lines are shown)."""
    from ..console import GraphConsole, LogTail, help_line, launch_streams_logs
    from ..launcher import GraphLauncher
    from ..logs import add_run_log, verbose_level
    from ..operator import EpisodeOutcome, OperatorConsole

    run_dir = Path(args.run_dir) if args.run_dir else Path(tempfile.mkdtemp(prefix="being_h0_run_"))
    add_run_log(run_dir)  # this process's log beside the node logs
    launcher = GraphLauncher(profile, run_dir, domain_id=args.domain_id, overrides=overrides,
                             log_level=verbose_level(args.log_level, args.verbose))  # -v: node logs at INFO
    print(f"starting {len(profile.nodes)} node processes (logs in {run_dir})", flush=True)
    print(launcher.network_summary(), flush=True)
    t0 = time.monotonic()
    launcher.start(stream_logs=args.verbose and launch_streams_logs())  # a terminal shows them above the status line
    ctx = launcher.context(use_sim_time=profile.use_sim_time)
    if args.view_session is not None:
        args.view_session.attach(ctx)
    console = OperatorConsole(ctx.create_node("operator_console"), operator=os.environ.get("USER", "operator"))
    gc = GraphConsole(console, profile.task.task_id, profile.task.instruction, episodes=1, base_seed=args.seed)
    if args.verbose and not launch_streams_logs():
        gc.tail = LogTail([c.log_path for c in launcher.children], logging.INFO)
    try:
        with gc.keys:
            up = _wait_until_up(launcher, console, ctx, args.startup_timeout)
            if up != "up":
                gc.line.close()
                if up == "dead":
                    return abort_dead(launcher, console, ctx)
                print(f"error: the graph did not come up within {args.startup_timeout} s; see logs in {run_dir}")
                return None
            gc.line.message(f"graph up after {time.monotonic() - t0:.1f} s")
            gc.line.message(help_line())
            if _run_until_finished(launcher, console, ctx, gc) == "dead":
                gc.line.close()
                return abort_dead(launcher, console, ctx)
            gc.line.update(gc.status(), force=True)
            gc.line.close()
        st = console.status
        return EpisodeOutcome(state=st.state, success=st.success, message=st.message, sim_seconds=st.elapsed,
                              wall_seconds=time.monotonic() - t0, episode=1, seed=args.seed, history=list(console.history))
    finally:
        codes = launcher.shutdown()
        ctx.shutdown()
        bad = {k: v for k, v in codes.items() if v not in (0, None, -2)}
        if bad:
            print(f"note: node exit codes {bad}", flush=True)


def _wait_until_up(launcher: Any, console: Any, ctx: Any, timeout_s: float) -> str:
    """Wait until the task node's status is latched and every node process is ready: "up", "dead" or "timeout"."""
    from ..console import graph_up
    from ..launcher import report_deaths

    deadline = time.monotonic() + timeout_s
    while not (graph_up(console) and launcher.all_ready()):
        ctx.spin_once(0.1)
        interrupts.raise_if_requested()
        if report_deaths(launcher, launcher.poll(), latch(console, ctx)):
            return "dead"
        if time.monotonic() > deadline:
            return "timeout"
    time.sleep(0.5)
    for _ in range(10):
        ctx.spin_once(0.05)
    return "up"


def _run_until_finished(launcher: Any, console: Any, ctx: Any, gc: Any) -> str:
    """Start the episode and serve the console until it ends or q: "finished" or "dead" (a node died)."""
    from ..launcher import report_deaths

    gc.start(1)
    while not gc.finished():
        ctx.spin_once(0.05)
        interrupts.raise_if_requested()
        if report_deaths(launcher, launcher.poll(), latch(console, ctx)):
            return "dead"
        gc.poll()
        if gc.quit and not console.finished(gc.episode):
            quit_deadline = time.monotonic() + 2.0
            while not console.finished(gc.episode) and time.monotonic() < quit_deadline:
                ctx.spin_once(0.05)
            break
    return "finished"


def latch(console: Any, ctx: Any):
    """The e-stop callback for launcher.report_deaths: latch, and say when (graph time)."""
    def estop(reason: str) -> None:
        console.estop(reason)
        print(f"e-stop latched at graph time {ctx.now():.3f} s: {reason}", flush=True)
    return estop


def abort_dead(launcher: Any, console: Any, ctx: Any) -> None:
    """The e-stop is latched (report_deaths): let it reach every node, then show the dead nodes' last words."""
    dead = launcher.dead()
    for _ in range(5):
        ctx.spin_once(0.05)
    for n, _ in dead:
        tail = launcher.tail(n)
        if tail:
            print(f"--- last lines of {n} ---\n{tail}", flush=True)
