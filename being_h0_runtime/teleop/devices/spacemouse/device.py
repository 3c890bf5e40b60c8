"""SpaceMouse device over hidapi (PyPI `hidapi`, module `hid`): the cap is a velocity command.

Every `read()` drains the waiting HID reports (non-blocking), then moves the
virtual wrist by deflection x max speed x elapsed time; the left button
toggles the clutch and the right button toggles the hand open/closed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...schema import TeleopFrame
from ..base import DeviceError, JogState, TeleopDevice
from .config import KNOWN_DEVICES, SpaceMouseConfig
from .hid_report import ReportError, SpaceMouseState, parse_report

LEFT, RIGHT = 0, 1


def open_hid(config: SpaceMouseConfig) -> Any:
    """Open the SpaceMouse with hidapi; a clear DeviceError when the package or the device is missing."""
    try:
        import hid  # type: ignore[import-not-found]
    except ImportError:
        raise DeviceError("spacemouse device needs the hidapi package: pip install 'being-h0-runtime[teleop]' "
                          "(or pip install hidapi); on Linux also a udev rule giving your user access to "
                          "/dev/hidraw* for vendor 046d/256f") from None
    wanted = ({(config.vendor_id, config.product_id)} if config.vendor_id is not None and config.product_id is not None
              else set(KNOWN_DEVICES))
    found = [d for d in hid.enumerate() if (d["vendor_id"], d["product_id"]) in wanted]
    if not found:
        raise DeviceError("spacemouse device: no 3Dconnexion device found among the HID devices "
                          f"(looked for {sorted(f'{v:04x}:{p:04x}' for v, p in wanted)}); is it plugged in, "
                          "and can your user open /dev/hidraw*?")
    dev = hid.device()
    try:
        dev.open_path(found[0]["path"])
    except OSError as err:
        raise DeviceError(f"spacemouse device: cannot open {found[0].get('product_string') or 'device'}: {err} "
                          "(permissions: add a udev rule for /dev/hidraw*)") from None
    dev.set_nonblocking(1)
    return dev


class SpaceMouseDevice(TeleopDevice):
    name = "spacemouse"

    def __init__(self, config: SpaceMouseConfig | None = None, hid_device: Any = None) -> None:
        """`hid_device`: anything with hidapi's `read(size) -> list[int]` (tests replay report bytes)."""
        super().__init__()
        self.config = config or SpaceMouseConfig()
        self.dev = hid_device if hid_device is not None else open_hid(self.config)
        self.state = SpaceMouseState()
        self.jog = JogState(self.config)
        self._clutch = False
        self._last_buttons = 0
        self._last_t: float | None = None
        self.bad_reports = 0

    @property
    def clutch(self) -> bool:
        return self._clutch

    def _drain(self) -> None:
        for _ in range(256):
            data = self.dev.read(64)
            if not data:
                return
            try:
                part = parse_report(data, self.state)
            except ReportError:
                self.bad_reports += 1
                continue
            if part == "buttons":
                pressed = self.state.buttons & ~self._last_buttons
                if pressed >> LEFT & 1:
                    self._clutch = not self._clutch
                if pressed >> RIGHT & 1:
                    self.jog.grip(1.0 if self.jog.closure < 0.5 else -1.0)
                self._last_buttons = self.state.buttons

    def deflection(self) -> np.ndarray:
        """Axes as -1..1 with the dead band removed (and the remaining range rescaled to reach 1)."""
        c = self.config
        x = np.clip(self.state.axes / c.full_scale, -1.0, 1.0)
        mag = np.maximum(np.abs(x) - c.deadband, 0.0) / (1.0 - c.deadband)
        return np.sign(x) * mag

    def read(self, now: float) -> TeleopFrame:
        self._drain()
        dt = 0.0 if self._last_t is None else min(max(now - self._last_t, 0.0), 0.1)  # a stall never jumps
        self._last_t = now
        d = self.deflection()
        self.jog.move(d[:3] * self.config.max_speed_m_s * dt, d[3:] * self.config.max_rate_rad_s * dt)
        return self.jog.frame(now, self._clutch, self._next_seq())

    def close(self) -> None:
        close = getattr(self.dev, "close", None)
        if close is not None:
            close()
