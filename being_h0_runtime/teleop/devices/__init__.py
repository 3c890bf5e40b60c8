"""Teleop input devices, one folder per family (a small config + a device class each).

  keyboard      arm jog keys + hand open/close keys from a terminal (cbreak mode)
  spacemouse    3Dconnexion SpaceMouse over hidapi: the cap is a 6-DoF velocity, buttons clutch / hand
  webcam[:N]    MediaPipe hand landmarks from camera N (default 0): wrist -> arm, fingers -> Inspire hand
  video:FILE    the same MediaPipe path on a video file (stands in for the webcam)

Every device yields `TeleopFrame`s (the UDP packet's content), so the teleop
node retargets them like any tracker and the arm/hand nodes' supervisor
enforces the limits.  `make_device("keyboard", scale=0.5)` builds one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import DeviceConfig, DeviceError, JogState, TeleopDevice

FAMILIES = ("keyboard", "spacemouse", "webcam", "video")


def parse_spec(spec: str) -> tuple[str, str]:
    """'video:demo.mp4' -> ('video', 'demo.mp4'); 'webcam' -> ('webcam', '')."""
    family, _, arg = spec.partition(":")
    if family not in FAMILIES:
        raise DeviceError(f"--device {spec!r}: unknown device; one of keyboard, spacemouse, webcam[:INDEX], "
                          "video:FILE")
    if family == "video" and not arg:
        raise DeviceError("--device video:FILE needs a file, e.g. video:hand.mp4")
    if family == "webcam" and arg and not arg.isdigit():
        raise DeviceError(f"--device {spec!r}: webcam:INDEX takes a camera number, e.g. webcam:1")
    if family in ("keyboard", "spacemouse") and arg:
        raise DeviceError(f"--device {spec!r}: {family} takes no argument")
    return family, arg


def device_help(family: str) -> str:
    if family == "keyboard":
        from .keyboard import HELP
    elif family == "spacemouse":
        from .spacemouse import HELP
    else:
        from .webcam import HELP
    return HELP


def make_device(spec: str, **settings: Any) -> TeleopDevice:
    """Open a device from its spec; `settings` are its config's fields (scale, workspace_m, ...)."""
    family, arg = parse_spec(spec)
    settings = {k: v for k, v in settings.items() if v is not None}
    if family == "keyboard":
        from .keyboard import KeyboardConfig, KeyboardDevice

        return KeyboardDevice(KeyboardConfig(**settings))
    if family == "spacemouse":
        from .spacemouse import SpaceMouseConfig, SpaceMouseDevice

        return SpaceMouseDevice(SpaceMouseConfig(**settings))
    from .webcam import CameraDevice, WebcamConfig

    if family == "video":
        settings.setdefault("clutch", "visible")
        return CameraDevice(Path(arg), WebcamConfig(**settings))
    return CameraDevice(int(arg or 0), WebcamConfig(**settings))


__all__ = ["FAMILIES", "DeviceConfig", "DeviceError", "JogState", "TeleopDevice", "device_help", "make_device",
           "parse_spec"]
