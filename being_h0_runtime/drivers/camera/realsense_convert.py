"""Pure RealSense conversions: SDK intrinsics/frames/options <-> the runtime's types. No streaming here."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...msgs.convert import camera_info
from ...msgs.sensor import CameraInfo
from ..base import CameraIntrinsics, DriverError
from .realsense_config import RealSenseConfig

try:  # optional extra (`pip install .[realsense]`)
    import pyrealsense2 as rs
except ImportError:  # pragma: no cover
    rs = None  # type: ignore[assignment]


def require_rs() -> Any:
    if rs is None:
        raise DriverError("pyrealsense2 is not installed: pip install 'being-h0-runtime[realsense]'")
    return rs


_DISTORTION = {
    "brown_conrady": "plumb_bob",
    "modified_brown_conrady": "plumb_bob",
    "inverse_brown_conrady": "plumb_bob",
    "none": "plumb_bob",
    "kannala_brandt4": "equidistant",
    "ftheta": "equidistant",
}


def intrinsics_from_rs(intr: Any) -> CameraIntrinsics:
    """rs.intrinsics -> CameraIntrinsics (RealSense's Brown-Conrady is ROS's plumb_bob)."""
    model = str(intr.model).split(".")[-1]
    return CameraIntrinsics(width=int(intr.width), height=int(intr.height), fx=float(intr.fx), fy=float(intr.fy),
                            cx=float(intr.ppx), cy=float(intr.ppy),
                            distortion_model=_DISTORTION.get(model, model),
                            distortion=tuple(float(c) for c in intr.coeffs))


def intrinsics_to_rs(intr: CameraIntrinsics) -> Any:
    r = require_rs()
    out = r.intrinsics()
    out.width, out.height = intr.width, intr.height
    out.fx, out.fy, out.ppx, out.ppy = intr.fx, intr.fy, intr.cx, intr.cy
    out.model = r.distortion.kannala_brandt4 if intr.distortion_model == "equidistant" else r.distortion.brown_conrady
    coeffs = list(intr.distortion)[:5]
    out.coeffs = coeffs + [0.0] * (5 - len(coeffs))
    return out


def camera_info_from_intrinsics(intr: CameraIntrinsics, stamp: float = 0.0,
                                frame_id: str = "camera_color_optical_frame") -> CameraInfo:
    """sensor_msgs/CameraInfo for the (colour, and aligned depth) image."""
    return camera_info(intr.width, intr.height, intr.fx, intr.fy, intr.cx, intr.cy, stamp=stamp,
                       frame_id=frame_id, distortion=intr.distortion, distortion_model=intr.distortion_model)


def color_to_rgb(data: np.ndarray, fmt: str) -> np.ndarray:
    """Copy a colour frame out of SDK memory as (H, W, 3) RGB uint8."""
    if fmt == "rgb8":
        return np.array(data, dtype=np.uint8, copy=True)
    if fmt == "bgr8":
        return np.ascontiguousarray(data[:, :, ::-1])
    if fmt == "rgba8":
        return np.ascontiguousarray(data[:, :, :3])
    if fmt == "bgra8":
        return np.ascontiguousarray(data[:, :, 2::-1])
    raise DriverError(f"unsupported RealSense colour format {fmt!r}: record/stream rgb8 or bgr8")


def depth_to_mm(data: np.ndarray, depth_units_m: float) -> np.ndarray:
    """z16 depth in device units -> uint16 millimetres (D4xx default unit is already 1 mm)."""
    if abs(depth_units_m - 0.001) < 1e-9:
        return np.array(data, dtype=np.uint16, copy=True)
    mm = np.rint(data.astype(np.float64) * (depth_units_m * 1000.0))
    return np.clip(mm, 0, 65535).astype(np.uint16)


def apply_sensor_options(sensor: Any, options: dict[Any, float]) -> list[str]:
    """Set each supported option within its range; returns warnings instead of raising (a rig keeps going)."""
    warnings: list[str] = []
    for opt, value in options.items():
        name = str(opt).split(".")[-1]
        try:
            if not sensor.supports(opt):
                warnings.append(f"{name} not supported by {sensor.get_info(rs.camera_info.name)}")
                continue
            rng = sensor.get_option_range(opt)
            v = float(min(max(value, rng.min), rng.max))
            if rng.step > 0:  # devices reject values off the step grid
                v = float(min(rng.max, rng.min + round((v - rng.min) / rng.step) * rng.step))
            if v != value:
                warnings.append(f"{name}={value:g} clamped to [{rng.min:g}, {rng.max:g}]")
            sensor.set_option(opt, v)
        except RuntimeError as exc:
            warnings.append(f"{name}: {exc}")
    return warnings


#: device-info keys the runtime reports, in order (the rs.camera_info member of each)
_INFO_FIELDS = (("serial", "serial_number"), ("name", "name"), ("firmware", "firmware_version"),
                ("usb", "usb_type_descriptor"), ("recommended_firmware", "recommended_firmware_version"))


def device_info(dev: Any, keys: tuple[str, ...] = ("serial", "name", "firmware")) -> dict[str, str]:
    """The `keys` of _INFO_FIELDS that the device reports (unsupported ones are left out)."""
    r = require_rs()
    out: dict[str, str] = {}
    for key, member in _INFO_FIELDS:
        ci = getattr(r.camera_info, member)
        if key in keys and dev.supports(ci):
            out[key] = dev.get_info(ci)
    return out


def list_devices(ctx: Any | None = None) -> list[dict[str, str]]:
    """Serial, name, firmware and USB type of every connected RealSense (empty list when none)."""
    r = require_rs()
    ctx = ctx or r.context()
    keys = tuple(key for key, _ in _INFO_FIELDS)
    out = []
    for dev in ctx.query_devices():
        info = device_info(dev, keys)
        out.append({key: info.get(key, "") for key in keys})
    return out


def live_sensor_options(sensor: Any, config: RealSenseConfig) -> dict[Any, float]:
    """The rs.option values a live camera's `sensor` gets from the config (global time, colour exposure)."""
    r = require_rs()
    opts: dict[Any, float] = {}
    if config.global_time and sensor.supports(r.option.global_time_enabled):
        opts[r.option.global_time_enabled] = 1.0
    if sensor.is_color_sensor():
        opts[r.option.enable_auto_exposure] = 1.0 if config.auto_exposure else 0.0
        if not config.auto_exposure:
            if config.exposure_us is not None:
                opts[r.option.exposure] = config.exposure_us
            if config.gain is not None:
                opts[r.option.gain] = config.gain
    return opts
