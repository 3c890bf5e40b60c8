"""Settings of one RealSense camera (the launch profile's `camera: options:` block), validated.

Kept apart from the driver so that validating a profile does not load librealsense.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...config import FilePath


class RealSenseConfig(BaseModel):
    """Validated settings of one RealSense camera (the launch profile's `camera:` block)."""

    model_config = ConfigDict(extra="forbid")

    serial: str | None = Field(None, description="serial number to open; None = the only/first camera")
    width: int = Field(640, gt=0)
    height: int = Field(480, gt=0)
    fps: int = Field(30, gt=0, le=300)
    enable_depth: bool = True
    align_depth: bool = Field(True, description="reproject depth into the colour camera (rs.align)")
    auto_exposure: bool = True
    exposure_us: float | None = Field(None, gt=0, description="colour exposure when auto_exposure is false")
    gain: float | None = Field(None, ge=0, description="colour gain when auto_exposure is false")
    global_time: bool = Field(True, description="host-synchronised hardware timestamps (global_time_enabled)")
    frame_timeout_ms: int = Field(1000, gt=0, description="no frame for this long = camera lost")
    stale_after_s: float = Field(0.5, gt=0, description="diagnostics turn STALE after this long without a frame")
    reconnect_initial_s: float = Field(0.2, gt=0)
    reconnect_max_s: float = Field(5.0, gt=0)
    playback_file: FilePath | None = Field(None, description="a .db3/.bag recording to play instead of a device "
                                                             "(relative: to the profile file's folder)")
    playback_real_time: bool = Field(False, description="pace playback as recorded (else every frame, in order)")
    frame_id: str = "camera_color_optical_frame"
    queue_size: int = Field(8, ge=1, description="frames buffered for non-real-time playback")

    @model_validator(mode="after")
    def _manual_exposure(self) -> RealSenseConfig:
        if self.auto_exposure and (self.exposure_us is not None or self.gain is not None):
            raise ValueError("exposure_us/gain are only used with auto_exposure: false")
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be >= reconnect_initial_s")
        return self
