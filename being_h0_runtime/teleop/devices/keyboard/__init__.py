"""Keyboard: arm jog keys and hand open/close keys from a terminal."""

from .config import HELP, KeyboardConfig
from .device import KeyboardDevice

__all__ = ["HELP", "KeyboardConfig", "KeyboardDevice"]
