"""`being-h0 doctor`: check a rig before a session and say how to fix what is wrong.

Each check returns a CheckResult (pass / warn / fail + a concrete fix). The
input is a plain dict so launch profiles, CI and tests can all feed it:

    {"arm": {"ip": "172.16.0.2"}, "hand": {"port": "/dev/ttyUSB0"},
     "camera": {"serial": "123456789012"}, "calibration_dir": "calibration/rig1",
     "recording_dir": "recordings", "min_free_gb": 20, "calibration_max_age_days": 30}

Sections that are absent are skipped (a camera-less bench rig is fine); a
section that is present must be healthy. Nothing here moves the robot.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import glob
import grp
import importlib.metadata
import json
import os
import platform
import shutil
import socket
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

PASS, WARN, FAIL = "pass", "warn", "fail"

#: packages whose versions matter for a rig (distribution names)
PACKAGES = ("franky-control", "pyrealsense2", "pyserial", "cyclonedds", "numpy", "pydantic", "mujoco",
            "onnxruntime", "torch")


@dataclass
class CheckResult:
    name: str
    status: str  # pass | warn | fail
    detail: str
    fix: str = ""


# ----------------------------------------------------------------------------- individual checks


def check_arm(arm: dict[str, Any], timeout_s: float = 1.0) -> list[CheckResult]:
    """TCP reachability of the FCI port, then a libfranka connect with a short deadline."""
    ip = arm.get("ip")
    if not ip:
        return [CheckResult("arm", FAIL, "arm section has no 'ip'",
                            "set nodes.arm.params.options.ip in the launch profile to the control box FCI address")]
    from .drivers.arm.franka_link import FCI_COMMAND_PORT  # local import: keeps `doctor --help` light

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
        from .drivers.arm.franka_config import FrankaConfig
        from .drivers.arm.franka_link import connect_franky
        from .drivers.base import DriverError

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
        from .drivers.camera.realsense import RealSenseCamera
        from .drivers.camera.realsense_config import RealSenseConfig
        from .drivers.camera.realsense_convert import list_devices
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


def check_calibration(calibration_dir: str | os.PathLike[str], max_age_days: float = 30.0,
                      today: _dt.date | None = None) -> list[CheckResult]:
    """Every calibration/<rig>/*.yaml exists, parses and carries a recent `date:`."""
    import yaml

    d = Path(calibration_dir)
    today = today or _dt.date.today()
    files = sorted(d.glob("*.yaml")) + sorted(d.glob("*.yml")) if d.is_dir() else []
    if not files:
        return [CheckResult(f"calibration {d}", FAIL, "no calibration files (*.yaml)",
                            "run the calibration procedure for this rig, or point calibration_dir at its calibration folder")]
    out = []
    for f in files:
        name = f"calibration {f.name}"
        try:
            data = yaml.safe_load(f.read_text()) or {}
        except (yaml.YAMLError, OSError) as exc:
            out.append(CheckResult(name, FAIL, f"{f}: unreadable YAML: {exc}", "re-run the calibration"))
            continue
        date = data.get("date") if isinstance(data, dict) else None
        if isinstance(date, _dt.datetime):
            date = date.date()
        elif isinstance(date, str):
            try:
                date = _dt.date.fromisoformat(date[:10])
            except ValueError:
                date = None
        if not isinstance(date, _dt.date):
            out.append(CheckResult(name, WARN, f"{f}: no valid 'date' field (YYYY-MM-DD)",
                                   "add the calibration date or re-run the calibration"))
            continue
        age = (today - date).days
        if age > max_age_days:
            out.append(CheckResult(name, WARN, f"{age} days old (limit {max_age_days:g})",
                                   "re-calibrate (intrinsics/hand-eye drift after bumps and re-mounting)"))
        else:
            out.append(CheckResult(name, PASS, f"{age} days old"))
    return out


def check_dds_interface(interface: str) -> CheckResult:
    """The profile's DDS interface exists on this machine (and has an IPv4 address)."""
    from .transport.dds_network import DdsNetwork, interface_addresses

    network = DdsNetwork(interface=interface)
    if network.from_environment:
        uri = os.environ.get("CYCLONEDDS_URI")
        if not uri:
            return CheckResult("dds interface", WARN, "profile defers to CYCLONEDDS_URI, which is not set: Cyclone "
                               "will pick an interface itself", "set dds.interface in the profile (e.g. lo)")
        return CheckResult("dds interface", PASS, f"from CYCLONEDDS_URI: {uri[:60]}")
    if network.loopback:
        return CheckResult("dds interface", PASS, "loopback only (all nodes on this PC)")
    found = interface_addresses()
    for name, addrs in found.items():
        if interface == name or interface in addrs:
            if not addrs:
                return CheckResult(f"dds {interface}", FAIL, "interface has no IPv4 address (down?)",
                                   f"ip link set {name} up and give it an address")
            return CheckResult(f"dds {interface}", PASS, f"{name} {', '.join(addrs)}")
    listing = ", ".join(f"{n} ({', '.join(a) or 'no address'})" for n, a in found.items())
    return CheckResult(f"dds {interface}", FAIL, f"no such interface; this machine has: {listing}",
                       "set dds.interface in the profile to one of them")


def check_realtime_kernel(sys_root: str = "/") -> CheckResult:
    """libfranka's 1 kHz loop needs PREEMPT_RT (or it aborts with communication_constraints_violation)."""
    flag = Path(sys_root, "sys/kernel/realtime")
    version = platform.uname().version
    rt = (flag.exists() and flag.read_text().strip() == "1") or "PREEMPT_RT" in version or "PREEMPT RT" in version
    if rt:
        return CheckResult("realtime kernel", PASS, version)
    return CheckResult("realtime kernel", FAIL, f"not a PREEMPT_RT kernel ({platform.release()})",
                       "install and boot a PREEMPT_RT kernel (Ubuntu Pro `pro enable realtime-kernel`, or build "
                       "one); add the user to a group with rtprio 99 in /etc/security/limits.conf")


def check_cpu_governor(sys_root: str = "/") -> CheckResult:
    """Frequency scaling adds latency spikes to the control loop; 'performance' avoids them."""
    files = sorted(glob.glob(os.path.join(sys_root, "sys/devices/system/cpu/cpu*/cpufreq/scaling_governor")))
    if not files:
        return CheckResult("cpu governor", WARN, "cpufreq not exposed (VM/container?)",
                           "on the rig PC: sudo cpupower frequency-set -g performance")
    govs = {}
    for f in files:
        try:
            govs[Path(f).parent.parent.name] = Path(f).read_text().strip()
        except OSError:
            continue
    bad = sorted(c for c, g in govs.items() if g != "performance")
    if bad:
        kinds = sorted(set(govs[c] for c in bad))
        return CheckResult("cpu governor", FAIL, f"{len(bad)}/{len(govs)} CPUs not 'performance' ({', '.join(kinds)})",
                           "sudo cpupower frequency-set -g performance (persist via cpufrequtils or a systemd unit)")
    return CheckResult("cpu governor", PASS, f"all {len(govs)} CPUs 'performance'")


def check_disk(recording_dir: str | os.PathLike[str], min_free_gb: float = 20.0) -> CheckResult:
    """Free space where episodes are written (an MCAP episode with images is ~1 GB/min)."""
    p = Path(recording_dir)
    probe = p
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    free_gb = usage.free / 1e9
    name = f"disk {p}"
    if free_gb < min_free_gb:
        return CheckResult(name, FAIL, f"{free_gb:.1f} GB free (< {min_free_gb:g} GB)",
                           "free space, or point recording_dir at a larger disk")
    if p.exists() and not os.access(p, os.W_OK):
        return CheckResult(name, FAIL, f"{p} not writable", f"chown/chmod {p} or choose another recording_dir")
    return CheckResult(name, PASS, f"{free_gb:.1f} GB free")


def check_packages(packages: Sequence[str] = PACKAGES) -> list[CheckResult]:
    out = []
    found = []
    for pkg in packages:
        try:
            found.append(f"{pkg} {importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            optional = pkg not in ("numpy", "pydantic", "pyserial")
            out.append(CheckResult(f"package {pkg}", WARN if optional else FAIL, "not installed",
                                   f"pip install {pkg}"))
    out.insert(0, CheckResult("python packages", PASS, f"python {platform.python_version()}; " + ", ".join(found)))
    return out


# ----------------------------------------------------------------------------- runner and output


def run_doctor(config: dict[str, Any], *, sys_root: str = "/", stream_test: bool = True,
               today: _dt.date | None = None) -> list[CheckResult]:
    """Run every check the config asks for; never raises (a crashed check is a FAIL row)."""
    if not isinstance(config, dict):
        raise TypeError(f"run_doctor needs a dict config, got {type(config).__name__}")
    results: list[CheckResult] = []

    def guard(name: str, fn: Callable[[], Any]) -> None:
        try:
            r = fn()
            results.extend(r if isinstance(r, list) else [r])
        except Exception as exc:  # noqa: BLE001
            results.append(CheckResult(name, FAIL, f"check crashed: {exc!r}", "report this as a bug"))

    if config.get("dds_interface"):
        guard("dds interface", lambda: check_dds_interface(str(config["dds_interface"])))
    if config.get("arm") is not None:
        guard("arm", lambda: check_arm(config["arm"], float(config.get("arm_timeout_s", 1.0))))
        guard("realtime kernel", lambda: check_realtime_kernel(sys_root))
        guard("cpu governor", lambda: check_cpu_governor(sys_root))
    if config.get("hand") is not None:
        guard("hand", lambda: check_hand(config["hand"]))
    if config.get("camera") is not None:
        guard("camera", lambda: check_camera(config["camera"], stream_test))
    if config.get("calibration_dir"):
        guard("calibration", lambda: check_calibration(config["calibration_dir"],
                                                       float(config.get("calibration_max_age_days", 30)), today))
    if config.get("recording_dir"):
        guard("disk", lambda: check_disk(config["recording_dir"], float(config.get("min_free_gb", 20))))
    guard("packages", check_packages)
    return results


def exit_code(results: Sequence[CheckResult]) -> int:
    """0 all pass/warn, 1 any FAIL."""
    return 1 if any(r.status == FAIL for r in results) else 0


def format_table(results: Sequence[CheckResult], width: int = 60) -> str:
    def cut(s: str) -> str:
        return s if len(s) <= width else s[: width - 1] + "…"

    rows = [("CHECK", "STATUS", "DETAIL", "FIX")] + [(r.name, r.status.upper(), cut(r.detail), r.fix)
                                                      for r in results]
    w0 = max(len(r[0]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    lines = [f"{a:<{w0}}  {b:<6}  {c:<{w2}}  {d}".rstrip() for a, b, c, d in rows]
    n_fail = sum(r.status == FAIL for r in results)
    n_warn = sum(r.status == WARN for r in results)
    lines.append(f"\n{len(results)} checks: {len(results) - n_fail - n_warn} pass, {n_warn} warn, {n_fail} fail")
    return "\n".join(lines)


def print_table(results: Sequence[CheckResult], file: Any = None) -> None:
    print(format_table(results), file=file or sys.stdout)


def load_config(path: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"doctor: cannot read config {path}: {exc}")
    if not isinstance(data, dict):
        raise SystemExit(f"doctor: {path}: top level must be a mapping with arm/hand/camera/... keys")
    return data


EPILOG = """\
what it checks (only for sections present in the config):
  dds_interface  the profile's DDS interface exists and has an address (lo always does)
  arm            FCI port reachable, libfranka connects (short deadline)
                 + real-time kernel (PREEMPT_RT) and CPU governor 'performance'
  hand           serial port exists and is readable/writable (dialout group hint)
  camera         RealSense serials and firmware, then a short stream test
  calibration    calibration_dir/*.yaml present, with a 'date' newer than N days
  recording_dir  free disk space above --min-free-gb
  packages       versions of franky-control, pyrealsense2, torch, ...

config (YAML or JSON) example:
  arm: {ip: 172.16.0.2}
  hand: {port: /dev/serial/by-id/usb-FTDI_...}
  camera: {serial: "123456789012"}
  calibration_dir: calibration/rig1
  recording_dir: recordings

exit status: 0 when nothing FAILs (warnings allowed), 1 otherwise.
examples:
  python -m being_h0_runtime.doctor --config rig.yaml
  python -m being_h0_runtime.doctor --arm-ip 172.16.0.2 --camera-serial 123456789012 --json
"""


def build_parser() -> argparse.ArgumentParser:
    """The doctor's options (`being-h0 doctor` adopts this parser and adds --profile)."""
    ap = argparse.ArgumentParser(
        prog="being-h0 doctor",
        description="Check that the rig (Franka arm, Inspire hand, RealSense camera, calibration, PC) is ready, "
                    "and print a pass/warn/fail table with a fix for each problem.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="YAML/JSON file with arm/hand/camera/calibration_dir/recording_dir keys")
    ap.add_argument("--arm-ip", help="Franka control box FCI address (overrides config)")
    ap.add_argument("--hand-port", help="Inspire hand RS-485 serial device (overrides config)")
    ap.add_argument("--camera-serial", help="RealSense serial number (overrides config); '' = first camera")
    ap.add_argument("--dds-interface", help="DDS interface the graph uses: lo, a NIC name or an address")
    ap.add_argument("--calibration-dir", help="directory with the rig's calibration *.yaml files")
    ap.add_argument("--recording-dir", help="where episodes are recorded (disk space check)")
    ap.add_argument("--min-free-gb", type=float, help="fail below this much free space (default 20)")
    ap.add_argument("--max-calibration-age-days", type=float, help="warn when calibration is older (default 30)")
    ap.add_argument("--no-stream-test", action="store_true", help="only list cameras, do not stream")
    ap.add_argument("--json", action="store_true", help="print results as JSON instead of a table")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    return run_parsed(build_parser().parse_args(argv))


def run_parsed(args: argparse.Namespace) -> int:
    """Run the checks `args` (from build_parser) ask for; the exit status of exit_code()."""
    cfg: dict[str, Any] = load_config(args.config) if args.config else {}
    if args.arm_ip:
        cfg["arm"] = {**cfg.get("arm", {}), "ip": args.arm_ip}
    if args.hand_port:
        cfg["hand"] = {**cfg.get("hand", {}), "port": args.hand_port}
    if args.camera_serial is not None:
        cfg["camera"] = {**cfg.get("camera", {}), "serial": args.camera_serial or None}
    for key, val in (("dds_interface", args.dds_interface), ("calibration_dir", args.calibration_dir), ("recording_dir", args.recording_dir),
                     ("min_free_gb", args.min_free_gb), ("calibration_max_age_days", args.max_calibration_age_days)):
        if val is not None:
            cfg[key] = val
    results = run_doctor(cfg, stream_test=not args.no_stream_test)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        print_table(results)
    return exit_code(results)


if __name__ == "__main__":
    sys.exit(main())
