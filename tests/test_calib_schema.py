"""Calibration files: malformed values name file + field, staleness/missing depend on what a task needs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from being_h0_runtime.calibration import schema
from being_h0_runtime.config import ConfigError

TODAY = dt.date(2025, 6, 1)


def _hand_eye(date: str = "2025-05-30") -> dict:
    res = {"method": "reprojection", "translation": [0.05, -0.42, 1.0], "quaternion_xyzw": [0, 0, 0, 1],
           "rot_residual_deg": 0.1, "trans_residual_mm": 0.5, "reproj_rms_px": 0.2}
    return {"version": 1, "date": date, "translation": [0.05, -0.42, 1.0], "quaternion_xyzw": [0, 0, 0, 1],
            "method": "reprojection", "n_samples": 20, "residuals": res, "alternatives": [],
            "provenance": {"software": "0.1", "board": {"squares_x": 5, "squares_y": 4, "square_m": 0.04,
                                                         "marker_m": 0.03}}}


def _intrinsics(date: str = "2025-05-30") -> dict:
    return {"version": 1, "date": date, "camera": "D435 1234",
            "streams": [{"stream": "color", "width": 640, "height": 480, "fx": 600.0, "fy": 600.0, "cx": 319.5,
                         "cy": 239.5, "source": "realsense"}]}


def _ranges(date: str = "2025-05-30") -> dict:
    return {"version": 1, "date": date, "open_raw": [1000] * 6, "closed_raw": [0] * 6, "force_limit": 0.2}


def _write(d: Path, name: str, data: dict) -> Path:
    p = d / name
    p.write_text(yaml.safe_dump(data))
    return p


def _rig(tmp_path: Path, date: str = "2025-05-30") -> Path:
    _write(tmp_path, "hand_eye.yaml", _hand_eye(date))
    _write(tmp_path, "intrinsics.yaml", _intrinsics(date))
    _write(tmp_path, "hand_ranges.yaml", _ranges(date))
    return tmp_path


def test_valid_files_load_and_check_ok(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    he = schema.load_hand_eye(rig)
    assert he.matrix()[:3, 3].tolist() == [0.05, -0.42, 1.0]
    assert schema.load_intrinsics(rig).find("color", 640, 480).fx == 600.0
    assert schema.load_hand_ranges(rig).hand_calibration().open_raw == (1000,) * 6
    findings = schema.check_calibration(rig, needs=["hand_eye", "intrinsics", "hand_ranges"], today=TODAY)
    assert [f.level for f in findings] == ["ok"] * 3


@pytest.mark.parametrize(
    "fname, mutate, field",
    [
        ("hand_eye.yaml", lambda d: d.update(quaternion_xyzw=[0, 0, 0, 2]), "quaternion_xyzw"),
        ("hand_eye.yaml", lambda d: d.update(translation=[0, 0]), "translation"),
        ("hand_eye.yaml", lambda d: d.update(n_samples=1), "n_samples"),
        ("hand_eye.yaml", lambda d: d["provenance"]["board"].update(marker_m=0.05), "provenance.board"),
        ("hand_eye.yaml", lambda d: d.update(date="yesterday"), "date"),
        ("hand_eye.yaml", lambda d: d.update(tranlsation=[0, 0, 0]), "tranlsation"),
        ("intrinsics.yaml", lambda d: d["streams"][0].update(fx=-1), "streams.0.fx"),
        ("intrinsics.yaml", lambda d: d["streams"][0].update(source="guess"), "streams.0.source"),
        ("intrinsics.yaml", lambda d: d["streams"][0].update(distortion=[0, 0, 0]), "streams.0"),
        ("hand_ranges.yaml", lambda d: d.update(open_raw=[1000] * 5), "open_raw"),
        ("hand_ranges.yaml", lambda d: d.update(closed_raw=[995] * 6), "<root>"),
        ("hand_ranges.yaml", lambda d: d.update(force_limit=3), "force_limit"),
    ],
)
def test_malformed_file_names_file_and_field(tmp_path: Path, fname, mutate, field) -> None:
    rig = _rig(tmp_path)
    data = yaml.safe_load((rig / fname).read_text())
    mutate(data)
    _write(rig, fname, data)
    kind = {"hand_eye.yaml": "hand_eye", "intrinsics.yaml": "intrinsics", "hand_ranges.yaml": "hand_ranges"}[fname]
    with pytest.raises(ConfigError) as ei:
        schema.load(kind, rig)
    msg = str(ei.value)
    assert str(rig / fname) in msg and f"field '{field}" in msg, msg
    # a malformed file is an error even when the task does not need it
    bad = [f for f in schema.check_calibration(rig, needs=[], today=TODAY) if f.kind == kind]
    assert bad[0].level == "error" and field in bad[0].message


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "hand_eye.yaml").write_text("date: [2025\n")
    with pytest.raises(ConfigError, match=r"hand_eye.yaml:.*line"):
        schema.load_hand_eye(tmp_path)


def test_stale_and_missing_are_errors_only_when_needed(tmp_path: Path) -> None:
    _write(tmp_path, "hand_eye.yaml", _hand_eye("2025-01-01"))  # 151 days before TODAY
    _write(tmp_path, "intrinsics.yaml", _intrinsics("2025-05-30"))
    lv = {f.kind: (f.level, f.message) for f in schema.check_calibration(tmp_path, needs=["hand_eye"], today=TODAY)}
    assert lv["hand_eye"][0] == "error" and "stale" in lv["hand_eye"][1]
    assert lv["intrinsics"][0] == "ok"
    assert lv["hand_ranges"][0] == "warning" and "missing" in lv["hand_ranges"][1]
    lv = {f.kind: f.level for f in schema.check_calibration(tmp_path, needs=["hand_ranges"], today=TODAY)}
    assert lv == {"hand_eye": "warning", "intrinsics": "ok", "hand_ranges": "error"}
    # the age limit is a parameter
    lv = {f.kind: f.level for f in schema.check_calibration(tmp_path, needs=["hand_eye"], max_age_days=200,
                                                             today=TODAY)}
    assert lv["hand_eye"] == "ok"
    with pytest.raises(ConfigError, match="unknown needs"):
        schema.check_calibration(tmp_path, needs=["handeye"])


def test_require_calibration_raises_with_every_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as ei:
        schema.require_calibration(tmp_path, needs=["hand_eye", "intrinsics"])
    assert "hand_eye.yaml" in str(ei.value) and "intrinsics.yaml" in str(ei.value)


def test_save_roundtrip_and_driver_compatible(tmp_path: Path) -> None:
    from being_h0_runtime.drivers.hand.calibration import load_calibration

    m = schema.HandRangesFile.model_validate(_ranges())
    p = schema.save(m, tmp_path)
    assert schema.load_hand_ranges(tmp_path) == m
    # The hand driver's loader rejects unknown keys, so the driver reads via HandRangesFile.hand_calibration();
    # the raw fields are the same.
    cal = m.hand_calibration()
    assert cal.open_raw == tuple(yaml.safe_load(p.read_text())["open_raw"])
    del load_calibration


def test_repo_virtual_rig_calibration_is_valid() -> None:
    rig = Path(__file__).resolve().parents[1] / "calibration" / "virtual"
    for kind in schema.KINDS:
        schema.load(kind, rig)
