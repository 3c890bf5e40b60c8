"""Calibration files of one rig: what they hold, how they are validated, when they are stale.

Layout (one folder per rig, all written by `being-h0 calibrate ...`)::

    calibration/<rig>/intrinsics.yaml   camera intrinsics per stream and resolution
    calibration/<rig>/hand_eye.yaml     T_base_camera (fixed camera, eye-to-hand)
    calibration/<rig>/hand_ranges.yaml  Inspire raw open/closed per DoF (the hand driver reads it)

Why validated models and not plain dicts: a calibration file is data a person
or a tool wrote, and a wrong number in it moves the arm to the wrong place.
Every load goes through `config.load_yaml_model`, so a bad value is one
`ConfigError` naming the file and the field. Staleness is a separate check
(`check_calibration`) because whether an old file is fatal depends on the task:
a joint-space policy does not need hand-eye, a Cartesian one does.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import yaml
from pydantic import Field, field_validator, model_validator

from ..config import ConfigError, StrictModel, load_yaml_model
from ..drivers.hand.calibration import HandCalibration, RawVector

SCHEMA_VERSION = 1
INTRINSICS_FILE = "intrinsics.yaml"
HAND_EYE_FILE = "hand_eye.yaml"
HAND_RANGES_FILE = "hand_ranges.yaml"
#: What `check_calibration(needs=...)` understands, and the file each one means.
KINDS: dict[str, str] = {"intrinsics": INTRINSICS_FILE, "hand_eye": HAND_EYE_FILE, "hand_ranges": HAND_RANGES_FILE}
#: the command that writes each kind (spelled out: the file kind and the command name differ, hand_ranges/hand-range)
CALIBRATE_COMMANDS: dict[str, str] = {"intrinsics": "being-h0 calibrate intrinsics",
                                      "hand_eye": "being-h0 calibrate hand-eye",
                                      "hand_ranges": "being-h0 calibrate hand-range"}
DEFAULT_MAX_AGE_DAYS = 30.0

Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Dated(StrictModel):
    """Every calibration carries the day it was measured (staleness) and the schema version."""

    version: Literal[1] = SCHEMA_VERSION
    date: _dt.date = Field(description="day the calibration was measured (YYYY-MM-DD)")

    @field_validator("date", mode="before")
    @classmethod
    def _day(cls, v: object) -> object:
        return v.date() if isinstance(v, _dt.datetime) else v


# ----------------------------------------------------------------------------- intrinsics
class StreamIntrinsics(StrictModel):
    """Pinhole intrinsics of one stream at one resolution (OpenCV pixel convention)."""

    stream: Literal["color", "depth", "infrared1", "infrared2"] = "color"
    width: int = Field(gt=0, le=8192)
    height: int = Field(gt=0, le=8192)
    fx: Positive
    fy: Positive
    cx: Finite
    cy: Finite
    distortion_model: Literal["plumb_bob", "rational_polynomial", "equidistant"] = "plumb_bob"
    distortion: list[Finite] = Field(default_factory=lambda: [0.0] * 5)
    source: Literal["realsense", "checkerboard", "charuco", "simulator"]
    rms_px: Annotated[float, Field(ge=0)] | None = Field(None, description="reprojection RMS of a board refinement")
    n_images: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> "StreamIntrinsics":
        need = {"plumb_bob": (5,), "rational_polynomial": (8, 12, 14), "equidistant": (4,)}[self.distortion_model]
        if len(self.distortion) not in need:
            raise ValueError(f"distortion model {self.distortion_model} needs {' or '.join(map(str, need))} "
                             f"coefficients, got {len(self.distortion)}")
        if not (0 <= self.cx < self.width and 0 <= self.cy < self.height):
            raise ValueError(f"principal point ({self.cx}, {self.cy}) outside the {self.width}x{self.height} image")
        return self

    @property
    def key(self) -> str:
        return f"{self.stream}_{self.width}x{self.height}"

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def dist_coeffs(self) -> np.ndarray:
        return np.asarray(self.distortion, float)


class IntrinsicsFile(_Dated):
    """intrinsics.yaml: one entry per (stream, resolution); `camera` names the device (serial)."""

    camera: str = Field(description="camera model and serial, e.g. 'D435 123456789012'")
    streams: list[StreamIntrinsics] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "IntrinsicsFile":
        keys = [s.key for s in self.streams]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(f"duplicate stream/resolution entries: {', '.join(dup)}")
        return self

    def find(self, stream: str, width: int, height: int) -> StreamIntrinsics:
        for s in self.streams:
            if (s.stream, s.width, s.height) == (stream, width, height):
                return s
        have = ", ".join(s.key for s in self.streams)
        raise ConfigError(f"intrinsics: no entry for {stream} {width}x{height} (have: {have})")


# ----------------------------------------------------------------------------- hand-eye
class BoardSpec(StrictModel):
    """The ChArUco board used (provenance: a different board means a different calibration)."""

    squares_x: int = Field(ge=3, le=40)
    squares_y: int = Field(ge=3, le=40)
    square_m: Positive = Field(description="chessboard square side (m), as measured on the print")
    marker_m: Positive = Field(description="ArUco marker side (m)")
    dictionary: str = Field("DICT_4X4_50", pattern=r"^DICT_[A-Z0-9_]+$")

    @model_validator(mode="after")
    def _marker_fits(self) -> "BoardSpec":
        if self.marker_m >= self.square_m:
            raise ValueError(f"marker_m {self.marker_m} must be smaller than square_m {self.square_m}")
        return self


class Provenance(StrictModel):
    software: str = Field(description="being-h0-runtime version that computed it")
    opencv: str = ""
    board: BoardSpec | None = None
    intrinsics: str = Field("", description="which intrinsics entry was used (stream_WxH)")
    notes: str = ""


class SolverResult(StrictModel):
    """One solver's answer and its consistency residuals (see handeye.residuals)."""

    method: str
    translation: list[Finite] = Field(min_length=3, max_length=3)
    quaternion_xyzw: list[Finite] = Field(min_length=4, max_length=4)
    rot_residual_deg: Annotated[float, Field(ge=0)]
    trans_residual_mm: Annotated[float, Field(ge=0)]
    reproj_rms_px: Annotated[float, Field(ge=0)] | None = None


def _unit_quat(q: list[float]) -> list[float]:
    n = math.sqrt(sum(x * x for x in q))
    if not 0.99 < n < 1.01:
        raise ValueError(f"quaternion_xyzw must have unit norm, got norm {n:.4f}")
    return [x / n for x in q]


class HandEyeFile(_Dated):
    """hand_eye.yaml: pose of the camera optical frame (z forward, x right, y down) in the robot base frame."""

    setup: Literal["eye_to_hand", "eye_in_hand"] = "eye_to_hand"
    parent_frame: str = "base"
    child_frame: str = "camera_color_optical_frame"
    translation: list[Finite] = Field(min_length=3, max_length=3, description="metres, base frame")
    quaternion_xyzw: list[Finite] = Field(min_length=4, max_length=4)
    method: str = Field(description="solver whose result this is (see `alternatives`)")
    n_samples: int = Field(ge=3)
    residuals: SolverResult = Field(description="residuals of the chosen result")
    alternatives: list[SolverResult] = Field(default_factory=list, description="other solvers, for comparison")
    provenance: Provenance

    @field_validator("quaternion_xyzw")
    @classmethod
    def _unit(cls, v: list[float]) -> list[float]:
        return _unit_quat(v)

    def matrix(self) -> np.ndarray:
        """4x4 T_base_camera."""
        from scipy.spatial.transform import Rotation

        T = np.eye(4)
        T[:3, :3] = Rotation.from_quat(self.quaternion_xyzw).as_matrix()
        T[:3, 3] = self.translation
        return T


# ----------------------------------------------------------------------------- hand ranges
class HandRangesFile(_Dated):
    """hand_ranges.yaml: a superset of the driver's HandCalibration (open_raw/closed_raw) plus provenance."""

    open_raw: RawVector
    closed_raw: RawVector
    force_limit: Annotated[float, Field(ge=0, le=1)] = Field(description="FORCE_SET fraction used while closing")
    hand: str = Field("", description="which unit (port / serial / side)")

    @model_validator(mode="after")
    def _driver_accepts(self) -> "HandRangesFile":
        HandCalibration(open_raw=self.open_raw, closed_raw=self.closed_raw)  # same rules as the driver
        return self

    def hand_calibration(self) -> HandCalibration:
        return HandCalibration(open_raw=self.open_raw, closed_raw=self.closed_raw)


MODELS: dict[str, type[_Dated]] = {"intrinsics": IntrinsicsFile, "hand_eye": HandEyeFile, "hand_ranges": HandRangesFile}


# ----------------------------------------------------------------------------- load / save
def load(kind: str, rig_dir: str | Path) -> _Dated:
    """Load and validate `rig_dir/<file of kind>`; raises ConfigError naming file and field."""
    if kind not in KINDS:
        raise ConfigError(f"calibration kind {kind!r} unknown; allowed: {', '.join(KINDS)}")
    path = Path(rig_dir) / KINDS[kind]
    if not path.is_file():  # the usual first-day case on a new rig: say which command writes it
        raise ConfigError(f"{path}: file not found; measure it with `{CALIBRATE_COMMANDS[kind]}` "
                          f"(`being-h0 calibrate check` lists what this rig still lacks)")
    return load_yaml_model(MODELS[kind], path)


def load_intrinsics(rig_dir: str | Path) -> IntrinsicsFile:
    return load("intrinsics", rig_dir)  # type: ignore[return-value]


def load_hand_eye(rig_dir: str | Path) -> HandEyeFile:
    return load("hand_eye", rig_dir)  # type: ignore[return-value]


def load_hand_ranges(rig_dir: str | Path) -> HandRangesFile:
    return load("hand_ranges", rig_dir)  # type: ignore[return-value]


_HEADERS = {
    "intrinsics": "# Camera intrinsics per stream/resolution (OpenCV convention). Written by `being-h0 calibrate intrinsics`.",
    "hand_eye": "# T_base_camera: camera optical frame (z fwd, x right, y down) in the robot base frame.\n"
                "# Written by `being-h0 calibrate hand-eye`; quaternion is (x, y, z, w).",
    "hand_ranges": "# Inspire raw angle-register values at open / closed, DoF order: little, ring, middle, index,\n"
                   "# thumb_bend, thumb_rotation. Written by `being-h0 calibrate hand-range`; the hand driver reads it.",
}


def save(model: _Dated, rig_dir: str | Path) -> Path:
    """Validate again (a bug must not write a file the loader rejects) and write it atomically."""
    kind = next(k for k, m in MODELS.items() if isinstance(model, m))
    MODELS[kind].model_validate(model.model_dump())
    path = Path(rig_dir) / KINDS[kind]
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(model.model_dump(mode="json", exclude_none=True), sort_keys=False, default_flow_style=None,
                          width=120)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(_HEADERS[kind] + "\n" + body)
    tmp.replace(path)
    return path


# ----------------------------------------------------------------------------- checks
@dataclass(frozen=True)
class Finding:
    """One result of `check_calibration`: level is 'error' (the task must not start) or 'warning'."""

    level: Literal["ok", "warning", "error"]
    kind: str
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.level.upper():7s} {self.kind:12s} {self.path}: {self.message}"


def check_calibration(rig_dir: str | Path, needs: list[str] | tuple[str, ...] = (),
                      max_age_days: float = DEFAULT_MAX_AGE_DAYS, today: _dt.date | None = None) -> list[Finding]:
    """Check every calibration file of a rig; missing/stale/malformed is an error for kinds in `needs`.

    A malformed file is always an error (somebody meant to calibrate and the
    data is wrong). A missing or stale one only blocks tasks that need it.
    """
    rig = Path(rig_dir)
    unknown = [n for n in needs if n not in KINDS]
    if unknown:
        raise ConfigError(f"check_calibration: unknown needs {unknown}; allowed: {', '.join(KINDS)}")
    today = today or _dt.date.today()
    out: list[Finding] = []
    for kind, fname in KINDS.items():
        path = rig / fname
        soft = "error" if kind in needs else "warning"
        if not path.exists():
            out.append(Finding(soft, kind, path, f"missing; run `{CALIBRATE_COMMANDS[kind]}`"))
            continue
        try:
            m = load(kind, rig)
        except ConfigError as e:
            out.append(Finding("error", kind, path, str(e)))
            continue
        age = (today - m.date).days
        if age > max_age_days:
            out.append(Finding(soft, kind, path, f"stale: measured {m.date} ({age} days ago, limit {max_age_days:g}); "
                                                 f"re-run `{CALIBRATE_COMMANDS[kind]}`"))
        elif age < 0:
            out.append(Finding("error", kind, path, f"field 'date': {m.date} is in the future"))
        else:
            out.append(Finding("ok", kind, path, f"{age} days old"))
    return out


def require_calibration(rig_dir: str | Path, needs: list[str] | tuple[str, ...],
                        max_age_days: float = DEFAULT_MAX_AGE_DAYS) -> list[Finding]:
    """`check_calibration`, raising ConfigError with every error at once; returns the warnings."""
    findings = check_calibration(rig_dir, needs, max_age_days)
    errors = [f for f in findings if f.level == "error"]
    if errors:
        raise ConfigError("calibration not usable:\n" + "\n".join(str(f) for f in errors))
    return [f for f in findings if f.level == "warning"]
