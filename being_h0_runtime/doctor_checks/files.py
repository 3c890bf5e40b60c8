"""Doctor checks of what is on disk: calibration files present and recent, free space for recordings."""

from __future__ import annotations

import datetime as _dt
import os
import shutil
from pathlib import Path

from .result import FAIL, PASS, WARN, CheckResult


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
