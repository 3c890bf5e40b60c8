"""Per-rig hand range calibration: which raw register value means open / closed.

Published sources disagree on the direction of the angle registers (most say
1000 = open, 0 = closed; some firmware and the POS registers run the other
way), and real units rarely reach the ends exactly. So the mapping between
the runtime's closure (0 = open, 1 = closed) and raw register units is data,
kept in a small YAML file under ``calibration/``::

    # calibration/<rig>/hand_ranges.yaml
    open_raw:   [1000, 1000, 1000, 1000, 1000, 1000]
    closed_raw: [0, 0, 0, 0, 0, 0]

``InspireHand.calibrate_ranges()`` measures one; :func:`save_calibration`
writes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..base import HAND_DOF_NAMES
from .protocol import NUM_DOF, RAW_MAX, RAW_MIN

RawValue = Annotated[int, Field(ge=RAW_MIN, le=RAW_MAX)]
RawVector = Annotated[tuple[RawValue, ...], Field(min_length=NUM_DOF, max_length=NUM_DOF)]


class CalibrationError(ValueError):
    """A calibration file is missing or invalid; the message names file and field."""


class HandCalibration(BaseModel):
    """Raw angle-register values at full open and full closed, per DoF."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    open_raw: RawVector = (RAW_MAX,) * NUM_DOF
    closed_raw: RawVector = (RAW_MIN,) * NUM_DOF

    @model_validator(mode="after")
    def _distinct_ends(self) -> "HandCalibration":
        for name, o, c in zip(HAND_DOF_NAMES, self.open_raw, self.closed_raw):
            if abs(o - c) < 10:
                raise ValueError(
                    f"open_raw and closed_raw of DoF '{name}' are {o} and {c}: they must differ by at least 10 raw units"
                )
        return self

    # ---------------------------------------------------------------- mapping
    def to_raw(self, closure: np.ndarray) -> np.ndarray:
        """Closure (0 open .. 1 closed; NaN kept) -> raw register units (float)."""
        o = np.asarray(self.open_raw, float)
        c = np.asarray(self.closed_raw, float)
        x = np.clip(np.asarray(closure, float), 0.0, 1.0)  # NaN stays NaN
        return o + x * (c - o)

    def to_closure(self, raw: np.ndarray) -> np.ndarray:
        """Raw register units -> closure clipped to [0, 1]."""
        o = np.asarray(self.open_raw, float)
        c = np.asarray(self.closed_raw, float)
        return np.clip((np.asarray(raw, float) - o) / (c - o), 0.0, 1.0) + 0.0  # + 0.0: no -0.0


def load_calibration(path: str | Path) -> HandCalibration:
    """Load and validate a hand range file; errors name the file and the field."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise CalibrationError(f"{p}: cannot read hand calibration ({e.strerror})") from e
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise CalibrationError(f"{p}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise CalibrationError(f"{p}: expected a mapping with open_raw and closed_raw, got {type(data).__name__}")
    try:
        return HandCalibration.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise CalibrationError(
            f"{p}: field '{field}': {first['msg']} (expected {NUM_DOF} integers in {RAW_MIN}..{RAW_MAX}, "
            f"DoF order {', '.join(HAND_DOF_NAMES)})"
        ) from e


def save_calibration(cal: HandCalibration, path: str | Path) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    body = {"open_raw": list(cal.open_raw), "closed_raw": list(cal.closed_raw)}
    header = "# Inspire hand ranges (raw angle-register units), DoF order: " + ", ".join(HAND_DOF_NAMES) + "\n"
    p.write_text(header + yaml.safe_dump(body, default_flow_style=None, sort_keys=False))
