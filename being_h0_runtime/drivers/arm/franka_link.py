"""The live link to a Franka: the slice of franky.Robot the driver uses, and opening it with clear errors."""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from ...netguard import check_destination
from ..base import DriverError
from .franka_config import FrankaConfig
from .franka_motion import collision_behavior_args, config_dynamics, require_franky

#: libfranka's command port; a TCP probe there tells "nothing at that address" apart quickly.
FCI_COMMAND_PORT = 1337


class FrankyConnection(Protocol):
    """The slice of ``franky.Robot`` this driver uses; a real Robot satisfies it unchanged."""

    @property
    def state(self) -> Any: ...

    def move(self, motion: Any, asynchronous: bool = False) -> None: ...

    def poll_motion(self) -> bool: ...

    def join_motion(self, timeout: float | None = None) -> bool: ...

    def stop(self) -> None: ...

    def recover_from_errors(self) -> bool: ...

    def set_collision_behavior(self, *args: Any) -> None: ...

    def set_joint_impedance(self, k: Sequence[float]) -> None: ...

    def set_cartesian_impedance(self, k: Sequence[float]) -> None: ...


def probe_fci(ip: str, timeout_s: float) -> None:
    """Raise DriverError unless something accepts TCP on the FCI command port within `timeout_s`."""
    check_destination(ip, FCI_COMMAND_PORT, "Franka FCI probe")
    try:
        with socket.create_connection((ip, FCI_COMMAND_PORT), timeout=timeout_s):
            pass
    except OSError as exc:
        raise DriverError(
            f"Franka at {ip!r} is unreachable (TCP port {FCI_COMMAND_PORT}: {exc}). Fix: check the Ethernet "
            f"cable to the control box, the PC's static IP on that subnet, that the brakes are open and "
            f"FCI is enabled in Desk; `being-h0 doctor` runs this check."
        ) from exc


def connect_franky(cfg: FrankaConfig) -> FrankyConnection:
    """Open a franky.Robot within `cfg.connect_timeout_s`, translating libfranka errors into DriverError.

    libfranka can block for a minute when a host accepts TCP but does not speak
    FCI, so the constructor runs on a helper thread with a deadline.
    """
    check_destination(cfg.ip, FCI_COMMAND_PORT, "libfranka connect")  # libfranka's C++ sockets bypass Python guards
    fr = require_franky()
    if cfg.probe_before_connect:
        probe_fci(cfg.ip, cfg.connect_timeout_s)
    box: dict[str, Any] = {}
    rt = fr.RealtimeConfig.Enforce if cfg.realtime else fr.RealtimeConfig.Ignore

    def _open() -> None:
        try:
            box["robot"] = fr.Robot(cfg.ip, relative_dynamics_factor=config_dynamics(cfg), realtime_config=rt)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc

    t = threading.Thread(target=_open, name=f"franky-connect-{cfg.ip}", daemon=True)
    t.start()
    t.join(cfg.connect_timeout_s)
    if t.is_alive():
        raise DriverError(f"Franka at {cfg.ip!r} did not answer the FCI handshake within "
                          f"{cfg.connect_timeout_s:.1f} s. Fix: is this the control box IP (not the arm base "
                          f"Desk IP) and is FCI enabled in Desk?")
    exc = box.get("error")
    if exc is not None:
        why = str(exc).rstrip(". ")
        if isinstance(exc, fr.RealtimeException):
            raise DriverError(f"Franka {cfg.ip!r}: {why}. Fix: boot a PREEMPT_RT kernel (see `being-h0 doctor`), "
                              f"or set nodes.arm.params.options.realtime: false in the launch profile "
                              f"(bench tests only).") from exc
        if isinstance(exc, fr.IncompatibleVersionException):
            raise DriverError(f"Franka {cfg.ip!r}: {why}. Fix: install the franky/libfranka build matching "
                              f"the robot system version.") from exc
        if isinstance(exc, fr.NetworkException):
            raise DriverError(f"Franka {cfg.ip!r} unreachable: {why}. Fix: check cable, IP and that FCI is "
                              f"enabled in Desk.") from exc
        raise DriverError(f"Franka {cfg.ip!r}: could not connect: {exc!r}") from exc
    return box["robot"]


def apply_settings(conn: FrankyConnection, cfg: FrankaConfig) -> None:
    """Collision thresholds and impedances from config (each call may raise franky.CommandException)."""
    conn.set_collision_behavior(*collision_behavior_args(cfg))
    if cfg.joint_impedance is not None:
        conn.set_joint_impedance(list(cfg.joint_impedance))
    if cfg.cartesian_impedance is not None:
        conn.set_cartesian_impedance(list(cfg.cartesian_impedance))
