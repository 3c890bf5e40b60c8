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
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Sequence

from .doctor_checks import (  # the checks, by family; re-exported: `from being_h0_runtime.doctor import check_hand`
    FAIL,
    PACKAGES,
    PASS,
    WARN,
    CheckResult,
    check_arm,
    check_calibration,
    check_camera,
    check_cpu_governor,
    check_dds_interface,
    check_disk,
    check_hand,
    check_packages,
    check_realtime_kernel,
)

__all__ = [
    "FAIL", "PACKAGES", "PASS", "WARN", "CheckResult", "build_parser", "check_arm", "check_calibration",
    "check_camera", "check_cpu_governor", "check_dds_interface", "check_disk", "check_hand", "check_packages",
    "check_realtime_kernel", "exit_code", "format_table", "load_config", "main", "print_table", "run_doctor",
    "run_parsed",
]

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
