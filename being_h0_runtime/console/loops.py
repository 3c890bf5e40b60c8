"""The `launch` and `run` loops: poll keys and status until the graph is done."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import interrupts
from .graph import GraphConsole
from .keys import KeyReader, help_line
from .logtail import LogTail
from .status import StatusLine


def graph_up(console: Any) -> bool:
    """The task node's latched status has arrived: the graph is up."""
    st = console.status
    return bool(st.header.stamp.sec or st.header.stamp.nanosec or console.history)


def run_launch(launcher: Any, ctx: Any, console: Any, profile: Any, log_level: str,
               on_dead: Callable[[], None], keys: KeyReader | None = None, line: StatusLine | None = None,
               is_dead: Callable[[], bool] | None = None) -> int:
    """`being-h0 launch`: keep the graph up under the console until `q`, Ctrl-C or a node dies.

    The caller started `launcher` with its node logs in files when `line.tty` (see `launch_streams_logs`).
    `is_dead`: True when the graph must come down (default: any node process exited); the CLI passes the
    launcher's restart policy (`launcher.report_deaths`), which restarts what the profile allows.
    """
    if is_dead is None:
        def is_dead() -> bool:
            return bool(launcher.dead())
    import logging

    from ..logs import parse_level

    line = line or StatusLine()
    gc = GraphConsole(console, profile.task.task_id, profile.task.instruction, keys=keys, line=line)
    tail = LogTail([c.log_path for c in launcher.children], parse_level(log_level)) if line.tty else None
    line.message(help_line())
    code = 0
    announced = False
    with gc.keys:
        try:
            while not gc.quit:
                ctx.spin_once(0.05)
                interrupts.raise_if_requested()  # a Ctrl-C swallowed by a finalizer during the spin
                if tail is not None:
                    for text in tail.new_lines():
                        line.message(text)
                # up = the task node's status is latched AND every node process marked itself ready (an
                # episode started before the inference node has loaded its engine runs blind at first)
                if not announced and graph_up(console) and launcher.all_ready():
                    announced = True
                    line.message("graph up: s starts an episode, h lists the keys")
                if is_dead():
                    line.close()
                    on_dead()
                    code = 3
                    break
                gc.poll() if announced else _poll_starting(gc)
            if gc.quit:
                for _ in range(10):  # let the abort reach the task node before the graph goes down
                    ctx.spin_once(0.02)
                line.update(gc.status(), force=True)
        except KeyboardInterrupt:
            interrupts.acknowledge()
            line.message("Ctrl-C: stopping the graph (actuators last)")
        finally:
            line.close()
    logging.getLogger("being_h0.console").info("launch console closed (code %d)", code)
    return code


def _poll_starting(gc: GraphConsole) -> None:
    """Before the graph is up only e-stop, help and quit make sense; the line says so."""
    for action in gc.keys.actions():
        if action in ("start", "rerecord", "abort", "success", "failure"):
            gc.line.message("the graph is still coming up; wait for 'graph up'")
        else:
            gc.do(action)
    st = gc.status()
    st.state, st.message = "starting", "waiting for the task node"
    gc.line.update(st)


def launch_streams_logs() -> bool:
    """Node logs go straight to the terminal only when no status line would be torn by them."""
    return not StatusLine().tty
