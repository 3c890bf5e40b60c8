"""Optional USB/serial foot switch that trips the e-stop latch.

Supported wirings (pick one with `protocol`):

* "byte"  - the adapter sends one byte on press (default 0x01) and,
  optionally, one on release (default 0x00). Many USB pedal boxes.
* "line"  - text lines, e.g. "PRESS" / "RELEASE" (microcontroller pedals).
* "cts" / "dsr" - a plain switch wired to a modem-status line of a USB-serial
  adapter; polled. `active_high=False` for a normally-closed pedal, so a cut
  cable reads as "pressed" (fail-safe).

Pressing asserts the stop on the latch (`EStopLatch.set_asserted`), which
triggers it; releasing only withdraws the assertion - resuming still needs
an operator reset. Losing the link (unplugged adapter, I/O error) also
asserts the stop until the link is back.

`port` is anything pyserial's `serial_for_url` accepts: "/dev/ttyUSB0",
"loop://", "rfc2217://host:port".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

import serial
from pydantic import BaseModel, ConfigDict, Field, model_validator

from being_h0_runtime.safety.estop import EStopLatch


def _byte_token(s: str, field: str) -> bytes:
    if s.lower().startswith("0x"):
        try:
            v = int(s, 16)
        except ValueError:
            raise ValueError(f"{field}: {s!r} is not a hex byte like 0x01") from None
        if not 0 <= v <= 255:
            raise ValueError(f"{field}: {s!r} is out of byte range")
        return bytes([v])
    if len(s.encode("latin-1", "replace")) != 1:
        raise ValueError(f"{field}: byte protocol needs one character or 0xNN, got {s!r}")
    return s.encode("latin-1")


class FootSwitchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    port: str = Field(..., min_length=1, description="device path or pyserial URL")
    baudrate: int = Field(9600, gt=0)
    protocol: Literal["byte", "line", "cts", "dsr"] = "byte"
    press: str = Field("0x01", description="byte: one char or 0xNN; line: the whole line")
    release: str | None = Field("0x00", description="as press; None = momentary pedal (press only)")
    active_high: bool = Field(True, description="cts/dsr: line asserted means pressed")
    poll_interval_s: float = Field(0.002, gt=0, le=0.5)
    reconnect_interval_s: float = Field(0.5, gt=0)
    source: str = Field("footswitch", min_length=1)

    @model_validator(mode="after")
    def _tokens(self) -> FootSwitchConfig:
        if self.protocol == "byte":
            p = _byte_token(self.press, "press")
            if self.release is not None and _byte_token(self.release, "release") == p:
                raise ValueError("press and release bytes must differ")
        elif self.protocol == "line":
            if not self.press.strip():
                raise ValueError("press: line protocol needs a non-empty token")
            if self.release is not None and self.release.strip() == self.press.strip():
                raise ValueError("press and release lines must differ")
        return self


class FootSwitch:
    """Reads the pedal and drives an `EStopLatch`. Use `start()`/`stop()` or call `poll_once()`."""

    def __init__(
        self, config: FootSwitchConfig, estop: EStopLatch, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self.estop = estop
        self._clock = clock
        self._ser: serial.SerialBase | None = None
        self._buf = b""
        self._pressed = False
        self._link_lost = False
        self._next_reconnect = 0.0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.presses = 0
        self.unknown = 0  # bytes / lines that matched neither token
        if config.protocol == "byte":
            self._press_b = _byte_token(config.press, "press")
            self._release_b = _byte_token(config.release, "release") if config.release is not None else None

    @property
    def serial(self) -> serial.SerialBase | None:
        return self._ser

    @property
    def pressed(self) -> bool:
        return self._pressed

    @property
    def link_ok(self) -> bool:
        return self._ser is not None and not self._link_lost

    # ------------------------------------------------------------------ link

    def open(self) -> None:
        """Open the port (raises serial.SerialException if it cannot)."""
        self._ser = serial.serial_for_url(self.config.port, baudrate=self.config.baudrate, timeout=self.config.poll_interval_s)
        self._buf = b""
        if self._link_lost:
            self._link_lost = False
            if self.config.protocol in ("byte", "line"):
                # state while we were blind is unknown; the latch stays set until an operator resets
                self._set_pressed(False, "link restored")
            self.estop.set_asserted(self._link_source, False, "link restored", self._clock())

    @property
    def _link_source(self) -> str:
        return f"{self.config.source}:link"

    def _lose_link(self, err: BaseException) -> None:
        if not self._link_lost:
            self._link_lost = True
            self.estop.set_asserted(self._link_source, True, f"foot switch link lost: {err}", self._clock())
        try:
            if self._ser is not None:
                self._ser.close()
        except Exception:  # noqa: BLE001 - already broken
            pass
        self._ser = None
        self._next_reconnect = self._clock() + self.config.reconnect_interval_s

    def close(self) -> None:
        self.stop()
        if self._ser is not None:
            self._ser.close()
            self._ser = None

    # ------------------------------------------------------------------ input

    def _set_pressed(self, pressed: bool, why: str) -> None:
        if pressed == self._pressed:
            return
        self._pressed = pressed
        now = self._clock()
        if pressed:
            self.presses += 1
        self.estop.set_asserted(self.config.source, pressed, why, now)

    def _momentary(self) -> None:
        self.presses += 1
        self.estop.trigger(self.config.source, "foot switch pressed", self._clock())

    def _on_token(self, press: bool | None) -> None:
        if press is None:
            self.unknown += 1
        elif press and self.config.release is None:
            self._momentary()
        else:
            self._set_pressed(press, "foot switch pressed" if press else "foot switch released")

    def poll_once(self) -> None:
        """Read whatever is available (waits at most poll_interval_s) and update the latch."""
        if self._ser is None:
            if self._link_lost and self._clock() >= self._next_reconnect:
                try:
                    self.open()
                except (serial.SerialException, OSError, ValueError) as e:
                    self._lose_link(e)
            else:
                time.sleep(self.config.poll_interval_s)
            return
        try:
            proto = self.config.protocol
            if proto in ("cts", "dsr"):
                level = bool(self._ser.cts if proto == "cts" else self._ser.dsr)
                self._set_pressed(level == self.config.active_high, f"foot switch {proto} line")
                time.sleep(self.config.poll_interval_s)
                return
            data = self._ser.read(max(1, self._ser.in_waiting))
        except (serial.SerialException, OSError) as e:
            self._lose_link(e)
            return
        if not data:
            return
        if proto == "byte":
            for b in data:
                bb = bytes([b])
                self._on_token(True if bb == self._press_b else False if bb == self._release_b else None)
        else:
            self._buf += data
            *lines, self._buf = self._buf.split(b"\n")
            for raw in lines:
                tok = raw.strip().decode("utf-8", "replace")
                if not tok:
                    continue
                rel = self.config.release.strip() if self.config.release is not None else None
                self._on_token(True if tok == self.config.press.strip() else False if tok == rel else None)

    # ----------------------------------------------------------------- thread

    def start(self) -> None:
        """Open (if needed) and poll in a daemon thread."""
        if self._ser is None and not self._link_lost:
            try:
                self.open()
            except (serial.SerialException, OSError, ValueError) as e:
                self._lose_link(e)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"footswitch:{self.config.port}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
