"""Keyboard device: jog keys read from a terminal in cbreak mode (no Enter needed).

Reads whatever bytes are waiting on the terminal's file descriptor each
`read()`; every press moves the virtual wrist one step (the terminal's key
repeat gives continuous motion while a key is held).  The terminal's
previous mode is restored on `close()`.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import tty

import numpy as np

from ...schema import TeleopFrame
from ..base import DeviceError, JogState, TeleopDevice
from .config import CLUTCH_KEY, ESTOP_KEY, KEYMAP, QUIT_KEYS, RESET_KEY, KeyboardConfig


class KeyboardDevice(TeleopDevice):
    name = "keyboard"

    def __init__(self, config: KeyboardConfig | None = None, fd: int | None = None) -> None:
        super().__init__()
        self.config = config or KeyboardConfig()
        self.fd = sys.stdin.fileno() if fd is None else fd
        if not os.isatty(self.fd):
            raise DeviceError("keyboard device: standard input is not a terminal; run `being-h0 teleop "
                              "--device keyboard` in an interactive terminal")
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)  # keys arrive one by one, without Enter, and are not echoed
        self.jog = JogState(self.config)
        self._clutch = False
        self.presses = 0

    @property
    def clutch(self) -> bool:
        return self._clutch

    def drop_clutch(self) -> None:
        self._clutch = False

    def handle_key(self, key: str) -> None:
        """Apply one key press (public so a console can forward keys it does not use itself)."""
        c = self.config
        if key == CLUTCH_KEY:
            self._clutch = not self._clutch
        elif key in QUIT_KEYS:
            self.quit_requested = True
        elif key == ESTOP_KEY:
            self.estop_requested = True
        elif key == RESET_KEY:
            self.reset_requested = True
        elif key.lower() in KEYMAP:
            what, axis, sign = KEYMAP[key.lower()]
            v = np.zeros(3)
            if what == "move":
                v[axis] = sign * c.step_m
                self.jog.move(v)
            elif what == "turn":
                v[axis] = sign * c.step_rad
                self.jog.move(np.zeros(3), v)
            else:
                self.jog.grip(sign * c.hand_step)
        else:
            return
        self.presses += 1

    def poll_keys(self) -> str:
        """Every byte waiting on the terminal, decoded (never blocks)."""
        out = b""
        while select.select([self.fd], [], [], 0)[0]:
            chunk = os.read(self.fd, 1024)
            if not chunk:
                break
            out += chunk
        text = out.decode(errors="ignore")
        # arrow keys etc. arrive as ESC [ X: treat them as unknown keys, not as Esc (quit)
        while "\x1b[" in text:
            i = text.index("\x1b[")
            text = text[:i] + text[i + 3:]
        return text

    def read(self, now: float) -> TeleopFrame:
        for key in self.poll_keys():
            self.handle_key(key)
        return self.jog.frame(now, self._clutch, self._next_seq())

    def status(self) -> str:
        p = self.jog.pos - self.jog.START
        lim = " AT WORKSPACE LIMIT" if self.jog.at_limit else ""
        return (f"{super().status()}  wrist {p[0]:+.2f} {p[1]:+.2f} {p[2]:+.2f} m  hand {self.jog.closure:.2f}{lim}")

    def close(self) -> None:
        try:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
        except termios.error:
            pass
