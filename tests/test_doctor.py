"""`being-h0 doctor` on this machine: no robot, hand or camera attached."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from being_h0_runtime.doctor import (
    FAIL,
    PASS,
    WARN,
    check_calibration,
    check_cpu_governor,
    check_disk,
    check_hand,
    check_realtime_kernel,
    exit_code,
    format_table,
    main,
    run_doctor,
)

TODAY = dt.date(2026, 1, 31)


def _by_prefix(results, prefix):
    return [r for r in results if r.name.startswith(prefix)]


@pytest.fixture
def rig(tmp_path):
    cal = tmp_path / "calibration" / "rig1"
    cal.mkdir(parents=True)
    (cal / "intrinsics.yaml").write_text("date: 2026-01-20\nfx: 600\n")
    (cal / "hand_eye.yaml").write_text("date: 2025-06-01\n")
    rec = tmp_path / "recordings"
    rec.mkdir()
    return {"arm": {"ip": "127.0.0.1"}, "hand": {"port": str(tmp_path / "ttyUSB-missing")},
            "camera": {"serial": "123456789012"}, "calibration_dir": str(cal), "recording_dir": str(rec),
            "min_free_gb": 0.001}


def test_no_devices_gives_clear_fails_with_fixes_and_nonzero_exit(rig):
    results = run_doctor(rig, today=TODAY)
    arm = _by_prefix(results, "arm")[0]
    hand = _by_prefix(results, "hand")[0]
    cam = _by_prefix(results, "camera")[0]
    for r in (arm, hand, cam):
        assert r.status == FAIL and r.fix, r
    assert "1337" in arm.detail and "FCI" in arm.fix
    assert "does not exist" in hand.detail
    assert "USB3" in cam.fix
    disk = _by_prefix(results, "disk")[0]
    assert disk.status == PASS
    cal = {r.name: r for r in _by_prefix(results, "calibration")}
    assert cal["calibration intrinsics.yaml"].status == PASS
    assert cal["calibration hand_eye.yaml"].status == WARN and "days old" in cal["calibration hand_eye.yaml"].detail
    assert _by_prefix(results, "python packages")[0].status == PASS
    assert exit_code(results) == 1
    table = format_table(results)
    assert "FIX" in table.splitlines()[0] and "FAIL" in table


def test_sections_absent_are_skipped_and_exit_zero(tmp_path):
    results = run_doctor({"recording_dir": str(tmp_path), "min_free_gb": 0.001})
    assert not _by_prefix(results, "arm") and not _by_prefix(results, "camera")
    assert exit_code(results) == 0


def test_disk_threshold_fails_when_too_little_space(tmp_path):
    r = check_disk(tmp_path / "not-yet-created", min_free_gb=1e9)
    assert r.status == FAIL and "GB free" in r.detail


def test_hand_permission_denied_gives_group_hint(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can open any file")
    port = tmp_path / "ttyFAKE"
    port.write_text("")
    port.chmod(0o000)
    r = check_hand({"port": str(port)})[0]
    assert r.status == FAIL and "usermod -aG" in r.fix


def test_hand_present_and_accessible(tmp_path):
    port = tmp_path / "ttyFAKE"
    port.write_text("")
    assert check_hand({"port": str(port)})[0].status == PASS


def test_calibration_missing_and_undated(tmp_path):
    assert check_calibration(tmp_path / "none")[0].status == FAIL
    (tmp_path / "x.yaml").write_text("fx: 1\n")
    (tmp_path / "y.yaml").write_text("date: [not valid\n")
    res = {r.name: r for r in check_calibration(tmp_path, today=TODAY)}
    assert res["calibration x.yaml"].status == WARN and "date" in res["calibration x.yaml"].detail
    assert res["calibration y.yaml"].status == FAIL


def test_realtime_and_governor_read_sysfs(tmp_path):
    (tmp_path / "sys/kernel").mkdir(parents=True)
    (tmp_path / "sys/kernel/realtime").write_text("1\n")
    assert check_realtime_kernel(str(tmp_path)).status == PASS
    for i, gov in enumerate(["performance", "powersave"]):
        d = tmp_path / f"sys/devices/system/cpu/cpu{i}/cpufreq"
        d.mkdir(parents=True)
        (d / "scaling_governor").write_text(gov + "\n")
    r = check_cpu_governor(str(tmp_path))
    assert r.status == FAIL and "1/2" in r.detail and "cpupower" in r.fix
    (tmp_path / "sys/devices/system/cpu/cpu1/cpufreq/scaling_governor").write_text("performance\n")
    assert check_cpu_governor(str(tmp_path)).status == PASS


def test_this_machine_kernel_is_reported_truthfully():
    r = check_realtime_kernel()
    is_rt = Path("/sys/kernel/realtime").exists() or "PREEMPT_RT" in os.uname().version
    assert (r.status == PASS) == is_rt


def test_camera_playback_file_stream_test(tmp_path):
    pytest.importorskip("pyrealsense2")
    import numpy as np

    from being_h0_runtime.drivers.base import CameraFrame, CameraIntrinsics
    from being_h0_runtime.drivers.camera.realsense_record import record_synthetic_db3

    intr = CameraIntrinsics(width=32, height=24, fx=30, fy=30, cx=16, cy=12)
    frames = [CameraFrame(stamp=1.0 + i / 30, color=np.zeros((24, 32, 3), np.uint8),
                          depth=np.ones((24, 32), np.uint16)) for i in range(3)]
    path = record_synthetic_db3(tmp_path / "c.db3", frames, intr)
    results = run_doctor({"camera": {"playback_file": str(path)}})
    cam = _by_prefix(results, "camera")[0]
    assert cam.status == PASS and "32x24" in cam.detail


def test_cli_main_and_module_help(tmp_path, capsys):
    code = main(["--hand-port", str(tmp_path / "nope"), "--recording-dir", str(tmp_path), "--min-free-gb", "0.001"])
    out = capsys.readouterr().out
    assert code == 1 and "hand" in out and "FAIL" in out
    proc = subprocess.run([sys.executable, "-m", "being_h0_runtime.doctor", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "exit status" in proc.stdout and "--arm-ip" in proc.stdout
