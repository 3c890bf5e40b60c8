"""The console over in-process episodes (`record`, `bench run`): one episode or trial after another."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .keys import KeyReader, help_line
from .status import ConsoleStatus, RateMeter, StatusLine, folder_bytes


def console_wanted(choice: str, jobs: int = 1) -> bool:
    """`--console auto|on|off`: auto is on when stdin and stdout are both terminals (and one process records)."""
    if choice == "on":
        return True
    if choice == "off" or jobs > 1:
        return False
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


class EpisodeConsole:
    """Status line and keys for episodes run in-process, one after another (`record`, `bench run`).

    `attach(ctx, nodes, ...)` is the episode's setup hook: it adds an operator node and a timer that
    reads keys and redraws. Between episodes the caller asks `wait_between()`: after `a` (abort) the
    console waits for `s`; `x` asks for the same episode again (`redo`), `q` for no more (`quit`).
    """

    def __init__(self, episodes: int, keys: KeyReader | None = None, line: StatusLine | None = None,
                 what: str = "episode") -> None:
        self.episodes = episodes
        self.keys = keys or KeyReader()
        self.line = line or StatusLine()
        self.what = what
        self.quit = False
        self.redo = False
        self.paused = False
        self.aborted = False  # the operator aborted the current episode (a or q)
        self.marked: bool | None = None
        self.estop = ""
        self.index = 0
        self.task_id = ""
        self.recording_dir: Callable[[], Path | None] | None = None
        self.operator: Any = None
        self._loop = RateMeter(window_s=1.0)
        self._chunks = RateMeter(window_s=3.0)
        self._rec_bytes: int | None = None
        self._rec_at = 0.0

    def __enter__(self) -> EpisodeConsole:
        self.keys.__enter__()
        self.line.message(help_line())
        return self

    def __exit__(self, *exc: object) -> None:
        self.line.close()
        self.keys.__exit__(*exc)

    def attach(self, ctx: Any, nodes: dict[str, Any], index: int, task_id: str,
               recording_dir: Callable[[], Path | None] | None = None) -> None:
        from ..msgs import ActionChunk, EStop, JointState
        from ..operator import OperatorConsole
        from ..transport.api import COMMAND_QOS, ESTOP_QOS, QoS

        self.ctx, self.index, self.task_id, self.recording_dir = ctx, index, task_id, recording_dir
        self.redo = False
        self.aborted = False
        self.marked = None
        self.estop = ""
        self._loop, self._chunks = RateMeter(window_s=1.0), RateMeter(window_s=3.0)  # each episode's clock starts at 0
        self.operator = OperatorConsole(ctx.create_node("console"), operator=os.environ.get("USER", "operator"))
        h = self.operator.handle
        h.create_subscription(EStop, "/estop", self._on_estop, ESTOP_QOS)
        h.create_subscription(ActionChunk, "/action_chunk", lambda m: self._chunks.tick(ctx.now()), COMMAND_QOS)
        h.create_subscription(JointState, "/arm/command", lambda m: self._loop.tick(ctx.now()), QoS("best_effort", 100))
        h.create_timer(0.1, self.poll)

    def _on_estop(self, msg: Any) -> None:
        if msg.engaged and not self.estop:
            self.estop = f"{msg.source or '?'}: {msg.reason or 'e-stop'}"
            self.line.message(f"E-STOP latched by {self.estop} - arm and hand hold; r resets, a aborts")
        elif not msg.engaged and msg.operator.strip() and self.estop:
            self.estop = ""
            self.line.message(f"e-stop reset by {msg.operator}; the {self.what} resumes")

    def status(self) -> ConsoleStatus:
        st = self.operator.status if self.operator is not None else None
        now = time.monotonic()
        if self.recording_dir is not None and now - self._rec_at > 1.0:
            self._rec_bytes, self._rec_at = folder_bytes(self.recording_dir()), now
        t = self.ctx.now() if self.operator is not None else 0.0
        running = st is not None and st.state in ("homing", "running")
        return ConsoleStatus(task=self.task_id, state="paused" if self.paused else (st.state if st else "idle"),
                             episode=self.index, episodes=self.episodes, elapsed_s=st.elapsed if st else 0.0,
                             estop=self.estop, loop_hz=self._loop.rate(t) if running else None,
                             inference_hz=self._chunks.rate(t) if running else None,
                             recording_bytes=self._rec_bytes if self.recording_dir is not None else None,
                             message=st.message if st else "", what=self.what)

    def poll(self) -> None:
        for action in self.keys.actions():
            self.do(action)
        st = self.operator.status if self.operator is not None else None
        if (self.quit or self.redo) and not self.aborted and st is not None and st.state in ("homing", "running"):
            self.operator.stop()  # q or x came before the episode started: stop it as soon as it has
            self.aborted = True
        self.line.update(self.status())

    def do(self, action: str) -> None:
        say = self.line.message
        st = self.operator.status if self.operator is not None else None
        active = st is not None and st.state in ("homing", "running") and not self.paused
        if action == "start":
            if self.paused:
                self.paused = False
                say("continuing")
            else:
                say(f"{self.what} {self.index} is {st.state if st else 'starting'}: a aborts it, x re-records it")
        elif action == "abort":
            if active:
                self.operator.stop()
                self.paused = self.aborted = True
                say(f"aborting {self.what} {self.index}; s starts the next, x re-records this one, q quits")
            else:
                say(f"no {self.what} running; s starts the next")
        elif action == "estop":
            if self.operator is not None:
                self.operator.estop("operator key")
                say("E-STOP sent")
        elif action == "reset":
            if self.estop and self.operator is not None:
                self.operator.reset_estop()
            else:
                say("e-stop is not latched; nothing to reset")
        elif action in ("success", "failure"):
            if st is not None and st.state == "running":
                self.operator.mark(action == "success")
                self.marked = action == "success"
                say(f"{self.what} {self.index} marked {action}")
            else:
                say(f"nothing to mark: the {self.what} is {st.state if st else 'not started'}")
        elif action == "rerecord":
            if self.estop:
                say("e-stop is latched: r resets it, then x re-records")
                return
            self.redo = True
            self.paused = False
            if active:
                self.operator.stop()
                self.aborted = True
            say(f"re-recording {self.what} {self.index}: this one is discarded")
        elif action == "quit":
            self.quit = True
            self.paused = False
            if active:
                self.operator.stop()
                self.aborted = True
            say(f"quitting after this {self.what} (it is discarded if unfinished)")
        elif action == "help":
            say(help_line())
        else:
            say(f"unknown key {action[1:]!r}; {help_line()}")

    def wait_between(self) -> None:
        """After an abort: wait (reading keys) until s, x or q."""
        while self.paused and not self.quit:
            self.poll()
            time.sleep(0.05)
