"""The operator's console: one status line, single-key commands, the same keys in every command.

`being-h0 launch`, `run`, `record` and `bench run` share it:

* **Status line.** When stdout is a terminal, one line is redrawn in place: task, state, episode k/n,
  elapsed, e-stop, control-loop and inference rates, recording size. When stdout is a pipe or a file
  (logs, CI, tests) the same facts come as plain lines, one per change and every few seconds, so a log
  stays readable.
* **Keys.** When stdin is a terminal it is put in cbreak mode (one key, no Enter; Ctrl-C still works)
  and restored on exit, on Ctrl-C and on SIGTERM. When stdin is a pipe or a file, Enter-terminated
  lines are read instead (``e<Enter>``), so a script can drive the console too.

Every key does something sensible in every state: a key that does not apply says why instead of
being silently dropped. `KEYS` is the one list; the help line and the README are written from it.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

# ---------------------------------------------------------------------------------------- the keys


@dataclass(frozen=True)
class Key:
    char: str
    action: str
    help: str


#: the console's keys, in help order (space is a second e-stop key: the biggest key on the keyboard)
KEYS: tuple[Key, ...] = (
    Key("s", "start", "start the next episode"),
    Key("a", "abort", "abort the episode (arm and hand hold)"),
    Key("e", "estop", "E-STOP: latch; arm and hand hold until reset (also space)"),
    Key("r", "reset", "reset the e-stop; the episode resumes"),
    Key("y", "success", "mark success"),
    Key("n", "failure", "mark failure"),
    Key("x", "rerecord", "re-record: discard this episode and run it again"),
    Key("q", "quit", "quit (aborts the episode, brings everything down)"),
    Key("h", "help", "show the keys"),
)
ACTION_OF = {k.char: k.action for k in KEYS} | {" ": "estop", "?": "help"}
#: whole words are accepted too when lines are typed (``quit<Enter>``)
ACTION_OF_WORD = {k.action: k.action for k in KEYS} | {"stop": "abort", "e-stop": "estop"}


def help_line() -> str:
    return "keys: " + "  ".join(f"{k.char}={k.action}" for k in KEYS)


def help_text() -> str:
    return "\n".join(f"  {k.char}  {k.help}" for k in KEYS)


_ESCAPE = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|O.|.)?")  # arrow keys and the like: not commands


class KeyReader:
    """Non-blocking operator input: single keys on a terminal (cbreak), Enter-terminated lines otherwise.

    Use as a context manager: the terminal mode is restored on exit, whatever ends the block.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = sys.stdin if stream is None else stream
        self.fd: int | None = None
        try:
            self.fd = self.stream.fileno() if self.stream is not None else None
        except (OSError, ValueError, AttributeError):
            self.fd = None
        self.tty = self.fd is not None and os.isatty(self.fd) and _foreground(self.fd)
        self._saved: list[Any] | None = None
        self._buf = b""
        self.eof = self.fd is None

    def __enter__(self) -> KeyReader:
        if self.tty and self.fd is not None:
            import termios
            import tty

            try:
                self._saved = termios.tcgetattr(self.fd)
                tty.setcbreak(self.fd)  # keys arrive one by one; ISIG stays, so Ctrl-C still interrupts
            except termios.error:
                self._saved = None
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        if self._saved is not None and self.fd is not None:
            import termios

            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            except termios.error:
                pass
            self._saved = None

    def actions(self) -> list[str]:
        """The actions typed since the last call (unknown keys come back as '?<key>')."""
        if self.eof or self.fd is None:
            return []
        try:
            ready, _, _ = select.select([self.fd], [], [], 0)
            if not ready:
                return []
            data = os.read(self.fd, 4096)
        except (OSError, ValueError):
            self.eof = True
            return []
        if not data:
            self.eof = True  # stdin closed (/dev/null, end of a pipe): nothing more will come
            data = b"\n" if self._buf else b""
        if self.tty:
            text = _ESCAPE.sub("", data.decode(errors="ignore"))
            return [_action(ch) for ch in text if ch not in "\r\n\t"]
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        out = []
        for raw in lines:
            word = raw.decode(errors="ignore").strip().lower()
            if not word:
                continue
            if word in ACTION_OF_WORD:
                out.append(ACTION_OF_WORD[word])
            else:
                out.append(_action(word) if len(word) == 1 else f"?{word}")
        return out


def _action(ch: str) -> str:
    return ACTION_OF.get(ch.lower(), f"?{ch!r}" if not ch.isprintable() else f"?{ch}")


def _foreground(fd: int) -> bool:
    """A terminal we may read and reconfigure: we are its foreground job (else SIGTTIN/SIGTTOU stop us)."""
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False


# ---------------------------------------------------------------------------------------- the status


@dataclass
class ConsoleStatus:
    task: str = ""
    state: str = "idle"
    episode: int = 0
    episodes: int | None = None  # None: open-ended (`launch`)
    elapsed_s: float = 0.0
    estop: str = ""  # "" = clear, else who latched it and why
    loop_hz: float | None = None
    inference_hz: float | None = None
    recording_bytes: int | None = None  # None: not recording
    message: str = ""
    what: str = "episode"  # or "trial" (`bench run`)

    def fields(self) -> list[str]:
        ep = f"{self.what} {self.episode}/{self.episodes}" if self.episodes else f"{self.what} {self.episode}"
        parts = [self.task or "-", self.state, ep, f"{self.elapsed_s:5.1f} s",
                 f"E-STOP LATCHED ({self.estop}) r=reset" if self.estop else "e-stop clear",
                 f"loop {_hz(self.loop_hz)}", f"infer {_hz(self.inference_hz)}",
                 f"rec {_size(self.recording_bytes)}" if self.recording_bytes is not None else "rec off"]
        return parts

    def line(self) -> str:
        text = " | ".join(self.fields())
        return f"{text} | {self.message}" if self.message else text

    def change_key(self) -> tuple[Any, ...]:
        """What makes a plain (non-terminal) line worth printing at once."""
        return self.task, self.state, self.episode, self.estop, self.message


def _hz(v: float | None) -> str:
    return "--" if v is None else f"{v:.0f} Hz" if v >= 10 else f"{v:.1f} Hz"


def _size(n: int | None) -> str:
    if n is None:
        return "--"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return ""


class StatusLine:
    """One line redrawn in place on a terminal; plain lines (on change, and every `plain_period_s`) otherwise."""

    def __init__(self, out: TextIO | None = None, tty: bool | None = None, plain_period_s: float = 5.0,
                 redraw_period_s: float = 0.1) -> None:
        self.out = sys.stdout if out is None else out
        if tty is None:
            try:
                tty = self.out.isatty() and os.environ.get("TERM", "") != "dumb"
            except (AttributeError, ValueError):
                tty = False
        self.tty = tty
        self.plain_period_s = plain_period_s
        self.redraw_period_s = redraw_period_s
        self._last: ConsoleStatus | None = None
        self._last_key: tuple[Any, ...] | None = None
        self._last_at = -1e9
        self._shown = False

    def update(self, st: ConsoleStatus, force: bool = False) -> None:
        now = time.monotonic()
        self._last = st
        if self.tty:
            if force or now - self._last_at >= self.redraw_period_s:
                self._draw(st.line())
                self._last_at = now
            return
        key = st.change_key()
        if force or key != self._last_key or now - self._last_at >= self.plain_period_s:
            self._write(st.line() + "\n")
            self._last_key, self._last_at = key, now

    def message(self, text: str) -> None:
        """A line above the status line (a terminal keeps the status line below it)."""
        if self.tty:
            self._write("\r\x1b[2K" + text + "\n")
            self._shown = False
            if self._last is not None:
                self._draw(self._last.line())
        else:
            self._write(text + "\n")

    def close(self) -> None:
        if self.tty and self._shown:
            self._write("\n")
            self._shown = False

    def _draw(self, text: str) -> None:
        width = shutil.get_terminal_size((120, 24)).columns
        if len(text) > width - 1:
            text = text[:width - 2] + "…"
        self._write("\r\x1b[2K" + text)
        self._shown = True

    def _write(self, s: str) -> None:
        try:
            self.out.write(s)
            self.out.flush()
        except (OSError, ValueError):
            pass


class RateMeter:
    """Events per second over a sliding window (wall clock)."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self.times: deque[float] = deque()

    def tick(self, t: float | None = None) -> None:
        self.times.append(time.monotonic() if t is None else t)

    def rate(self, t: float | None = None) -> float | None:
        now = time.monotonic() if t is None else t
        while self.times and now - self.times[0] > self.window_s:
            self.times.popleft()
        if not self.times:
            return None
        return len(self.times) / self.window_s


def folder_bytes(path: Path | None) -> int | None:
    """Bytes under `path` (None when there is no such folder): the recording size on the status line."""
    if path is None or not path.exists():
        return None
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


# ------------------------------------------------------------------------- the console over a graph

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
        from .msgs import ActionChunk, DiagnosticArray, EStop
        from .transport.api import COMMAND_QOS, ESTOP_QOS, QoS

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


# ------------------------------------------------------------------------- node logs above the line

_DATE = re.compile(r"^\d{4}-\d\d-\d\d ")
_LEVEL = re.compile(r"\b(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b")


class LogTail:
    """New lines of the node log files at or above `level`, for printing above the status line.

    On a terminal the node processes write to their log files (not to the terminal, which would
    tear the status line); this shows what the terminal would have shown.
    """

    def __init__(self, paths: list[Path], level: int) -> None:
        import logging

        self.paths = paths
        self.level = level
        self.offsets: dict[Path, int] = {}
        self._levels = {n: logging.getLevelName(n) for n in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")}

    def new_lines(self) -> list[str]:
        out = []
        for p in self.paths:
            try:
                size = p.stat().st_size
            except OSError:
                continue
            off = self.offsets.get(p, 0)
            if size <= off:
                continue
            with open(p, "rb") as f:
                f.seek(off)
                data = f.read(size - off)
            cut = data.rfind(b"\n") + 1  # only whole lines
            self.offsets[p] = off + cut
            for raw in data[:cut].decode(errors="replace").splitlines():
                raw = _DATE.sub("", raw)  # the file's date prefix: the terminal line keeps the time of day
                m = _LEVEL.search(raw)
                if m is None or self._levels[m.group(1)] >= self.level:
                    out.append(raw)
        return out


# ------------------------------------------------------------------------- `launch` and `run` loops


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

    from .logs import parse_level

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
                if tail is not None:
                    for text in tail.new_lines():
                        line.message(text)
                if not announced and graph_up(console):
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


# ------------------------------------------------------------------- in-process episodes: record, bench run


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
        from .msgs import ActionChunk, EStop, JointState
        from .operator import OperatorConsole
        from .transport.api import COMMAND_QOS, ESTOP_QOS, QoS

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
