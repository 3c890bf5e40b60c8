"""The status line: what it shows (`ConsoleStatus`), how it is drawn (in place or as plain lines), rates and sizes."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO


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
