"""Intrinsics (RealSense playback, ChArUco refinement on rendered views), hand ranges over the emulator, CLI help."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from being_h0_runtime.calibration import cli, schema


def test_intrinsics_from_realsense_playback(tmp_path: Path) -> None:
    pytest.importorskip("pyrealsense2")
    from being_h0_runtime.drivers.base import CameraFrame, CameraIntrinsics
    from being_h0_runtime.drivers.camera.realsense_record import record_synthetic_db3

    intr = CameraIntrinsics(width=640, height=480, fx=612.5, fy=611.0, cx=321.25, cy=238.5,
                            distortion=(0.01, -0.02, 0.0, 0.0, 0.003))
    frames = [CameraFrame(stamp=0.1 * i, color=np.full((480, 640, 3), 40 * i, np.uint8),
                          depth=np.full((480, 640), 900, np.uint16)) for i in range(3)]
    rec = record_synthetic_db3(tmp_path / "cam.db3", frames, intr)
    rc = cli.main(["intrinsics", "--playback", str(rec), "--resolution", "640x480", "--rig-dir", str(tmp_path / "r")])
    assert rc == 0
    e = schema.load_intrinsics(tmp_path / "r").find("color", 640, 480)
    assert (e.fx, e.fy, e.cx, e.cy, e.source) == pytest.approx((612.5, 611.0, 321.25, 238.5, "realsense"))
    assert e.distortion == pytest.approx([0.01, -0.02, 0.0, 0.0, 0.003], abs=1e-6)


def test_charuco_refinement_recovers_sim_intrinsics(tmp_path: Path) -> None:
    from being_h0_runtime.calibration.handeye import make_board
    from being_h0_runtime.calibration.intrinsics import from_sim, load_images, refine_charuco
    from being_h0_runtime.calibration.sim_verify import SIM_BOARD, run_sim_handeye

    run_sim_handeye(n_views=12, out_dir=tmp_path / "v", seed=3)
    est = refine_charuco(load_images(tmp_path / "v"), make_board(SIM_BOARD), None, fix_distortion=True)
    truth = from_sim((640, 480))
    assert est.source == "charuco" and est.n_images >= 6 and est.rms_px < 0.5
    assert abs(est.fx / truth.fx - 1) < 0.02 and abs(est.fy / truth.fy - 1) < 0.02
    assert abs(est.cx - truth.cx) < 5 and abs(est.cy - truth.cy) < 5


def test_hand_range_on_emulator_writes_driver_compatible_file(tmp_path: Path) -> None:
    rc = cli.main(["hand-range", "--sim", "--yes", "--rig-dir", str(tmp_path)])
    assert rc == 0
    f = schema.load_hand_ranges(tmp_path)
    assert f.closed_raw[:4] == pytest.approx([40] * 4, abs=3) and f.closed_raw[4] == pytest.approx(120, abs=3)
    assert f.open_raw == pytest.approx([1000] * 6, abs=3) and f.force_limit == 0.2
    from being_h0_runtime.drivers.hand.inspire_config import InspireHandConfig

    cfg = InspireHandConfig(port="/dev/null").with_calibration(f.hand_calibration())
    assert cfg.calibration.to_raw(np.ones(6))[4] == pytest.approx(f.closed_raw[4])


def test_check_exit_codes_and_help(tmp_path: Path, capsys) -> None:
    assert cli.main(["check", "--rig-dir", str(tmp_path)]) == 0  # all missing, none needed: warnings
    assert cli.main(["check", "--rig-dir", str(tmp_path), "--needs", "hand_eye"]) == 1
    out = capsys.readouterr().out
    assert "WARNING" in out and "ERROR" in out and "being-h0 calibrate hand-eye" in out
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert "typical order on a new rig" in text and "hand-eye --sim" in text
    with pytest.raises(SystemExit):
        cli.main(["intrinsics", "--resolution", "640by480"])
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
