"""Doctor checks of the rig's devices: Franka arm (FCI reachable, libfranka connects), Inspire hand
(serial port), RealSense camera (serials, firmware, a short stream test). Nothing here moves the robot."""

from __future__ import annotations

import glob
import grp
import os
import socket
from typing import Any

from .result import FAIL, PASS, WARN, CheckResult


def check_arm(arm: dict[str, Any], timeout_s: float = 1.0) -> list[CheckResult]:
    """TCP reachability of the FCI port, then a libfranka connect with a short deadline."""
    ip = arm.get("ip")
    if not ip:
        return [CheckResult("arm", FAIL, "arm section has no 'ip'",
                            "set nodes.arm.params.options.ip in the launch profile to the control box FCI address")]
    from ..drivers.arm.franka_link import (
        FCI_COMMAND_PORT,  # local import: keeps `doctor --help` light
    )

    try:
        with socket.create_connection((ip, FCI_COMMAND_PORT), timeout=timeout_s):
            pass
    except OSError as exc:
        return [CheckResult(f"arm {ip}", FAIL, f"FCI port {FCI_COMMAND_PORT} unreachable: {exc}",
                            "check the Ethernet cable to the control box, a static IP on its subnet, "
                            "that the brakes are unlocked and FCI is activated in Desk")]
    if not arm.get("connect", True):
        return [CheckResult(f"arm {ip}", PASS, f"FCI port {FCI_COMMAND_PORT} answers")]
    try:
        from ..drivers.arm.franka_config import FrankaConfig
        from ..drivers.arm.franka_link import connect_franky
        from ..drivers.base import DriverError

        cfg = FrankaConfig(ip=ip, realtime=bool(arm.get("realtime", True)), connect_timeout_s=max(timeout_s, 2.0))
        connect_franky(cfg)
    except ImportError as exc:
        return [CheckResult(f"arm {ip}", FAIL, f"franky not importable: {exc}", "pip install franky-control")]
    except DriverError as exc:
        msg = str(exc)
        fix = msg.split("Fix:", 1)[1].strip() if "Fix:" in msg else "see the message"
        return [CheckResult(f"arm {ip}", FAIL, msg.split(" Fix:")[0], fix)]
    return [CheckResult(f"arm {ip}", PASS, "libfranka connected")]


def check_hand(hand: dict[str, Any]) -> list[CheckResult]:
    """The RS-485 adapter exists and this user may read and write it."""
    port = hand.get("port")
    if not port:
        return [CheckResult("hand", FAIL, "hand section has no 'port'",
                            "set nodes.hand.params.options.port in the launch profile, e.g. /dev/ttyUSB0")]
    name = f"hand {port}"
    if not os.path.exists(port):
        present = sorted(glob.glob("/dev/ttyUSB*") + glob.glob("/dev/ttyACM*") + glob.glob("/dev/serial/by-id/*"))
        return [CheckResult(name, FAIL, f"{port} does not exist (serial ports present: {present or 'none'})",
                            "plug in the RS-485 adapter; prefer a stable /dev/serial/by-id/... path in the profile")]
    if not os.access(port, os.R_OK | os.W_OK):
        groups = []
        try:
            gid = os.stat(port).st_gid
            groups = [grp.getgrgid(gid).gr_name]
        except (KeyError, OSError):
            pass
        group = groups[0] if groups else "dialout"
        return [CheckResult(name, FAIL, f"no read/write permission on {port} (owned by group {group})",
                            f"sudo usermod -aG {group} $USER, then log out and in")]
    return [CheckResult(name, PASS, "present, read/write OK")]


def check_camera(camera: dict[str, Any], stream_test: bool = True) -> list[CheckResult]:
    """Connected RealSense serials + firmware; the configured serial streams frames."""
    try:
        from ..drivers.camera.realsense import RealSenseCamera
        from ..drivers.camera.realsense_config import RealSenseConfig
        from ..drivers.camera.realsense_convert import list_devices
    except ImportError as exc:  # pragma: no cover
        return [CheckResult("camera", FAIL, f"pyrealsense2 not importable: {exc}", "pip install pyrealsense2")]
    playback = camera.get("playback_file")
    if playback:
        return [_stream_test(RealSenseCamera, RealSenseConfig(playback_file=playback), f"camera {playback}")]
    try:
        devices = list_devices()
    except Exception as exc:  # noqa: BLE001 - librealsense backend errors (libusb, permissions)
        return [CheckResult("camera", FAIL, f"librealsense could not enumerate devices: {exc}",
                            "install udev rules (99-realsense-libusb.rules) and check libusb")]
    serial = camera.get("serial")
    name = f"camera {serial or '(first)'}"
    if not devices:
        return [CheckResult(name, FAIL, "no RealSense camera connected",
                            "plug the camera into a USB3 port (blue), check `rs-enumerate-devices` and udev rules")]
    listing = ", ".join(f"{d['serial']} {d['name']} fw {d['firmware']}" for d in devices)
    serials = [d["serial"] for d in devices]
    if serial and serial not in serials:
        return [CheckResult(name, FAIL, f"serial not connected; found: {listing}",
                            "set nodes.camera.params.options.serial in the launch profile or connect that camera")]
    dev = devices[serials.index(serial)] if serial else devices[0]
    out = [CheckResult(name, PASS, f"found: {listing}")]
    if dev.get("recommended_firmware") and dev["firmware"] != dev["recommended_firmware"]:
        out.append(CheckResult(f"{name} firmware", WARN,
                               f"firmware {dev['firmware']}, recommended {dev['recommended_firmware']}",
                               "update with `rs-fw-update` or realsense-viewer"))
    if dev.get("usb") and not dev["usb"].startswith("3"):
        out.append(CheckResult(f"{name} usb", WARN, f"connected over USB {dev['usb']}",
                               "use a USB3 port and cable; USB2 limits resolution and fps"))
    if stream_test:
        cfg = RealSenseConfig(serial=dev["serial"], width=int(camera.get("width", 640)),
                              height=int(camera.get("height", 480)), fps=int(camera.get("fps", 30)))
        out.append(_stream_test(RealSenseCamera, cfg, f"{name} stream"))
    return out


def _stream_test(cls: Any, cfg: Any, name: str, timeout_s: float = 3.0) -> CheckResult:
    import time

    cam = cls(cfg)
    try:
        cam.configure()
        cam.activate()
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            frame = cam.read()
            if frame is not None:
                h, w = frame.color.shape[:2]
                return CheckResult(name, PASS, f"frame {w}x{h} received (depth {'yes' if frame.depth is not None else 'no'})")
            time.sleep(0.01)
        return CheckResult(name, FAIL, f"no frame within {timeout_s:g} s", "replug the camera; try another USB3 port")
    except Exception as exc:  # noqa: BLE001
        return CheckResult(name, FAIL, str(exc), "check the camera / file named in the message")
    finally:
        cam.close()
