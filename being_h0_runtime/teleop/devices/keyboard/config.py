"""Keyboard teleop settings and key map."""

from __future__ import annotations

from pydantic import Field

from ..base import DeviceConfig

#: key -> (what, axis, sign); what: move (x forward, y left, z up) | turn (about x, y, z) | hand
KEYMAP: dict[str, tuple[str, int, int]] = {
    "w": ("move", 0, +1), "s": ("move", 0, -1),
    "a": ("move", 1, +1), "d": ("move", 1, -1),
    "r": ("move", 2, +1), "f": ("move", 2, -1),
    "u": ("turn", 0, +1), "o": ("turn", 0, -1),
    "i": ("turn", 1, +1), "k": ("turn", 1, -1),
    "j": ("turn", 2, +1), "l": ("turn", 2, -1),
    "g": ("hand", 0, +1), "h": ("hand", 0, -1),
}
CLUTCH_KEY = " "
QUIT_KEYS = ("q", "\x1b")
ESTOP_KEY = "e"  # as in the launch/run console
RESET_KEY = "x"  # the console's "r" is "up" here

HELP = """keyboard teleop (the terminal must have focus):
  space      clutch: take over / release (the robot follows only while it is on)
  w / s      forward / back      a / d   left / right      r / f   up / down
  j / l      yaw left / right    i / k   pitch             u / o   roll
  g / h      close / open the hand (one step per press)
  e          E-STOP: latch; arm and hand hold until reset
  x          reset the e-stop (the clutch must be taken again)
  q or Esc   quit"""


class KeyboardConfig(DeviceConfig):
    #: metres per key press (before `scale`)
    step_m: float = Field(0.01, gt=0, le=0.1)
    #: radians per key press
    step_rad: float = Field(0.05, gt=0, le=0.5)
    #: hand closure change per g/h press (0 open .. 1 closed)
    hand_step: float = Field(0.25, gt=0, le=1)
