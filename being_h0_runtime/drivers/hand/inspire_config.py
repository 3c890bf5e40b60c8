"""Settings of one Inspire hand (the launch profile's `hand: options:` block), validated; unknown keys rejected.

The ``cycle``, ``duplex`` and ``*_period_s`` knobs are explained in the driver's
module docstring (:mod:`being_h0_runtime.drivers.hand.inspire`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .calibration import HandCalibration, RawVector
from .protocol import BAUD_CODES, MAX_DATA_BYTES, NUM_DOF, RAW_MAX, ErrorBit

Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class InspireHandConfig(BaseModel):
    """Link and behaviour settings for one hand (validated; unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid")

    port: str = Field(description="serial device, e.g. /dev/ttyUSB0 or an emulator's pty")
    baudrate: int = 115200
    hand_id: int = Field(1, ge=1, le=254)
    timeout_s: float = Field(
        0.05, gt=0.0, le=5.0, description="reply deadline beyond the bytes' wire time (USB adapters add latency)"
    )
    retries: int = Field(2, ge=0, le=10, description="extra attempts per transaction")
    fault_after: int = Field(3, ge=1, description="consecutive failed transactions that latch a fault")
    open_raw: RawVector = (RAW_MAX,) * NUM_DOF
    closed_raw: RawVector = (0,) * NUM_DOF
    default_speed: Unit = 1.0
    default_force: Unit = 0.5
    batch_read: bool = Field(True, description="legacy cycle: read all state registers in one transaction")
    cycle: Literal["legacy", "fast"] = Field(
        "fast", description="legacy: full state span + write every cycle; fast: see the module docstring"
    )
    duplex: Literal["half", "full"] = Field(
        "half", description="half: 2-wire RS-485 (one talker at a time); full: RS-232/RS-422, requests pipelined"
    )
    status_period_s: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="fast cycle: re-read force/current/error/status/temperature at most this old (0 = every read)",
    )
    rewrite_period_s: float = Field(
        0.25, gt=0.0, description="fast cycle: re-send an unchanged angle target at least this often"
    )
    fast_forces: bool = Field(
        False,
        description="fast cycle: fresh FORCE_ACT on every read too (one ANGLE_ACT..FORCE_ACT span, 48 bytes: "
        "the 24 reserved bytes between them ride along) instead of with the status span",
    )
    max_read_bytes: int = Field(96, ge=12, le=MAX_DATA_BYTES)
    temp_warn_c: float = 60.0
    temp_fault_c: float = 75.0
    fault_error_mask: int = Field(
        int(ErrorBit.STALL | ErrorBit.OVER_TEMPERATURE | ErrorBit.OVER_CURRENT | ErrorBit.MOTOR_ABNORMAL),
        ge=0,
        le=0xFF,
        description="ERROR register bits that latch a fault",
    )

    @field_validator("baudrate")
    @classmethod
    def _known_baud(cls, v: int) -> int:
        if v not in BAUD_CODES.values():
            raise ValueError(f"baudrate {v} not supported by the hand; use one of {sorted(BAUD_CODES.values())}")
        return v

    @property
    def calibration(self) -> HandCalibration:
        return HandCalibration(open_raw=self.open_raw, closed_raw=self.closed_raw)

    def with_calibration(self, cal: HandCalibration) -> InspireHandConfig:
        return self.model_copy(update={"open_raw": cal.open_raw, "closed_raw": cal.closed_raw})

    @classmethod
    def from_yaml(cls, path: str | Path) -> InspireHandConfig:
        """Load a config file; a bad value raises one ValueError naming file and field."""
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text()) or {}
            return cls.model_validate(data)
        except OSError as e:
            raise ValueError(f"{p}: cannot read hand config ({e.strerror})") from e
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            raise ValueError(f"{p}: field '{loc}': {err['msg']}") from e
