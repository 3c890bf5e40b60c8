"""The console over a running graph (`launch`, `run`): e-stop, chunk and diagnostics in, keys out as commands."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .keys import KeyReader, help_line
from .logtail import LogTail
from .status import ConsoleStatus, RateMeter, StatusLine, folder_bytes

_CADENCE = re.compile(r"period p50 ([0-9.]+) us")


@dataclass
class GraphConsoleResult:
    quit: bool = False
    episodes_finished: list[Any] = field(default_factory=list)


class GraphConsole:
    """Status line and keys for a graph of node processes (`launch`, `run`): drives an OperatorConsole.

    `episodes=None` is open-ended (`launch`: `s` starts episode k+1); `episodes=1` with `auto_start`
    is `run`. The caller spins the DDS context; `poll()` reads keys and redraws.
    """

    def __init__(self, console: Any, task_id: str, instruction: str, *, episodes: int | None = None,
                 base_seed: int = 0, keys: KeyReader | None = None, line: StatusLine | None = None,
                 recording_dir: Path | None = None) -> None:
        from ..msgs import ActionChunk, DiagnosticArray, EStop
        from ..transport.api import COMMAND_QOS, ESTOP_QOS, QoS

        self.console = console
        self.task_id, self.instruction = task_id, instruction
        self.episodes, self.base_seed = episodes, base_seed
        self.keys = keys or KeyReader()
        self.line = line or StatusLine()
        self.recording_dir = recording_dir
        self.episode = 0  # the episode number last started
        self.estop = ""
        self.quit = False
        self.loop_hz: float | None = None
        self.chunks = RateMeter(window_s=3.0)
        self.chunk_count = 0
        self._restart_pending = False
        #: node log lines to show above the status line (when node logs go to files, not the terminal)
        self.tail: LogTail | None = None
        self._rec_bytes: int | None = None
        self._rec_at = 0.0
        h = console.handle
        h.create_subscription(EStop, "/estop", self._on_estop, ESTOP_QOS)
        h.create_subscription(ActionChunk, "/action_chunk", self._on_chunk, COMMAND_QOS)
        h.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, QoS(depth=50))

    # -- inputs from the graph -------------------------------------------------------------------
    def _on_estop(self, msg: Any) -> None:
        if msg.engaged:
            if not self.estop:
                self.line.message(f"E-STOP latched by {msg.source or '?'}: {msg.reason or 'e-stop'} "
                                  f"- arm and hand hold; r resets, a aborts the episode")
            self.estop = f"{msg.source or '?'}: {msg.reason or 'e-stop'}"
        elif msg.operator.strip() and self.estop:
            self.estop = ""
            self.line.message(f"e-stop reset by {msg.operator}; the episode resumes")

    def _on_chunk(self, msg: Any) -> None:
        self.chunk_count += 1
        self.chunks.tick()

    def _on_diagnostics(self, msg: Any) -> None:
        for st in msg.status:
            if st.name.startswith("arm:"):
                for kv in st.values:
                    if kv.key == "cadence":
                        m = _CADENCE.search(kv.value)
                        if m and float(m.group(1)) > 0:
                            self.loop_hz = 1e6 / float(m.group(1))

    # -- status --------------------------------------------------------------------------------------
    def status(self) -> ConsoleStatus:
        st = self.console.status
        now = time.monotonic()
        if self.recording_dir is not None and now - self._rec_at > 1.0:
            self._rec_bytes, self._rec_at = folder_bytes(self.recording_dir), now
        running = st.state in ("homing", "running")
        return ConsoleStatus(task=st.task_id or self.task_id, state=st.state or "idle",
                             episode=st.episode or self.episode, episodes=self.episodes, elapsed_s=st.elapsed,
                             estop=self.estop, loop_hz=self.loop_hz,
                             inference_hz=self.chunks.rate() if running else None,
                             recording_bytes=self._rec_bytes, message=st.message)

    def finished(self) -> bool:
        """The current episode (number `episode`) reached a terminal state, and no restart is on its way."""
        if self._restart_pending:
            st = self.console.status
            if st.episode == self.episode and st.state in ("homing", "running"):
                self._restart_pending = False
            return False
        return self.episode > 0 and self.console.finished(self.episode)

    # -- keys ----------------------------------------------------------------------------------------
    def start(self, episode: int | None = None) -> None:
        self.episode = self.episode + 1 if episode is None else episode
        self.console.start(self.task_id, self.instruction, self.episode, self.base_seed + self.episode - 1)

    def poll(self) -> None:
        if self.tail is not None:
            for text in self.tail.new_lines():
                self.line.message(text)
        for action in self.keys.actions():
            self.do(action)
        self.line.update(self.status())

    def do(self, action: str) -> None:
        st = self.console.status
        active = st.state in ("homing", "running")
        say = self.line.message
        if action == "start":
            if active:
                say(f"episode {st.episode} is {st.state}: a aborts it, x re-records it")
            elif self.estop:
                say("e-stop is latched: r resets it, then s starts")
            elif self.episodes is not None and self.episode >= self.episodes:
                say(f"all {self.episodes} episode(s) done: q quits")
            else:
                self.start()
                say(f"starting episode {self.episode}")
        elif action == "abort":
            if active:
                self.console.stop()
                say(f"aborting episode {st.episode}; arm and hand hold")
            else:
                say(f"no episode running ({st.state}); s starts one")
        elif action == "estop":
            self.console.estop("operator key")
            say("E-STOP sent")
        elif action == "reset":
            if self.estop:
                self.console.reset_estop()
            else:
                say("e-stop is not latched; nothing to reset")
        elif action in ("success", "failure"):
            if st.state == "running":
                self.console.mark(action == "success")
                say(f"episode {st.episode} marked {action}")
            else:
                say(f"nothing to mark: the episode is {st.state}")
        elif action == "rerecord":
            if self.episode == 0:
                say("no episode yet: s starts one")
            elif self.estop:
                say("e-stop is latched: r resets it, then x re-records")
            else:
                if active:
                    self.console.stop()
                self._restart_pending = True
                self.start(self.episode)
                say(f"re-recording episode {self.episode}")
        elif action == "quit":
            if active:
                self.console.stop()
            self.quit = True
            say("quitting: stopping the graph (actuators last)")
        elif action == "help":
            say(help_line())
        else:
            say(f"unknown key {action[1:]!r}; {help_line()}")
