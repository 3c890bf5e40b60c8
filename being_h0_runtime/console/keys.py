"""The console's keys: the one list (`KEYS`) and a reader that turns a terminal or a pipe into actions."""

from __future__ import annotations

import os
import re
import select
import sys
from dataclasses import dataclass
from typing import Any, TextIO


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
