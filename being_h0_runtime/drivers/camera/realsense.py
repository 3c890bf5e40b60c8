"""Intel RealSense backend (pyrealsense2): live D4xx cameras and `.db3` playback.

Why this shape:

* One code path for a live camera and a recording: both are an `rs.pipeline`
  fed either by a USB device (selected by serial number) or by
  `config.enable_device_from_file`. Tests and the virtual rig therefore run
  the same frame handling (alignment, format conversion, timestamps) as a rig.
* A grabber thread owns the pipeline. `read()` never blocks: it hands out the
  newest frame (live) or the next frame in order (non-real-time playback,
  where the grabber applies back-pressure so nothing is dropped).
* A camera that vanishes (USB unplug, `wait_for_frames` timeout, pipeline
  stopped underneath us, file gone) never raises into the node: `read()`
  returns None, `diagnostics()` says STALE/ERROR with a fix, and the grabber
  retries with exponential back-off.
* `record_synthetic_db3` writes recordings with a software device and the
  SDK's own recorder, so recordings made by the virtual rig are the real
  format, replayable by `realsense-viewer` and by this backend.
"""

from __future__ import annotations

import collections
import gc
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...config import FilePath
from ...msgs.convert import camera_info
from ...msgs.sensor import CameraInfo
from ..base import CameraDriver, CameraFrame, CameraIntrinsics, Diagnostic, DriverError

try:  # optional extra (`pip install .[realsense]`)
    import pyrealsense2 as rs
except ImportError:  # pragma: no cover
    rs = None  # type: ignore[assignment]


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
    def _manual_exposure(self) -> "RealSenseConfig":
        if self.auto_exposure and (self.exposure_us is not None or self.gain is not None):
            raise ValueError("exposure_us/gain are only used with auto_exposure: false")
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be >= reconnect_initial_s")
        return self


def _require_rs() -> Any:
    if rs is None:
        raise DriverError("pyrealsense2 is not installed: pip install 'being-h0-runtime[realsense]'")
    return rs


# ----------------------------------------------------------------------------- pure conversions


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
    r = _require_rs()
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


def list_devices(ctx: Any | None = None) -> list[dict[str, str]]:
    """Serial, name, firmware and USB type of every connected RealSense (empty list when none)."""
    r = _require_rs()
    ctx = ctx or r.context()
    out = []
    for dev in ctx.query_devices():
        info: dict[str, str] = {}
        for key, ci in (("serial", r.camera_info.serial_number), ("name", r.camera_info.name),
                        ("firmware", r.camera_info.firmware_version), ("usb", r.camera_info.usb_type_descriptor),
                        ("recommended_firmware", r.camera_info.recommended_firmware_version)):
            info[key] = dev.get_info(ci) if dev.supports(ci) else ""
        out.append(info)
    return out


# ----------------------------------------------------------------------------- synthetic recordings


def record_synthetic_db3(path: str | os.PathLike[str], frames: Sequence[CameraFrame], intrinsics: CameraIntrinsics,
                         fps: int = 30, depth_units_m: float = 0.001, serial: str = "SYNTH0001",
                         name: str = "Being-H0 virtual D435") -> Path:
    """Write `frames` as a RealSense recording (`.db3` rosbag2 or `.bag`) using the SDK's own recorder.

    A software device with an "RGB Camera" (rgb8) and a "Stereo Module" (z16)
    sensor (rs.pipeline drops framesets until it has seen colour, so frame 0
    pushes colour first; later frames push depth first so each new colour
    frame meets its own depth frame in the syncer), both carrying `intrinsics` and identity extrinsics, feeds
    `rs.recorder`. Compression is off, so playback is bit-exact. Each frame's
    `stamp` (s) becomes its global-time timestamp (ms).
    """
    r = _require_rs()
    path = Path(path)
    if path.suffix not in (".db3", ".bag"):
        raise ValueError(f"{path}: recording must end in .db3 (rosbag2) or .bag")
    if not frames:
        raise ValueError("record_synthetic_db3 needs at least one frame")
    w, h = intrinsics.width, intrinsics.height
    with_depth = frames[0].depth is not None
    for i, f in enumerate(frames):
        if f.color.shape != (h, w, 3) or f.color.dtype != np.uint8:
            raise ValueError(f"frame {i}: color must be uint8 ({h}, {w}, 3), got {f.color.dtype} {f.color.shape}")
        if with_depth and (f.depth is None or f.depth.shape != (h, w)):
            raise ValueError(f"frame {i}: depth must be ({h}, {w}) like frame 0")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()

    dev = r.software_device()
    dev.register_info(r.camera_info.name, name)
    dev.register_info(r.camera_info.serial_number, serial)
    dev.register_info(r.camera_info.firmware_version, "0.0.0.0")
    rs_intr = intrinsics_to_rs(intrinsics)
    sensors: list[tuple[Any, Any, int, str]] = []  # (sensor, profile, bpp, kind)
    color_sensor = dev.add_sensor("RGB Camera")
    cs = r.video_stream()
    cs.type, cs.index, cs.uid, cs.width, cs.height, cs.fps, cs.bpp, cs.fmt, cs.intrinsics = (
        r.stream.color, 0, 1, w, h, fps, 3, r.format.rgb8, rs_intr)
    color_profile = color_sensor.add_video_stream(cs, True)
    if with_depth:
        depth_sensor = dev.add_sensor("Stereo Module")
        ds = r.video_stream()
        ds.type, ds.index, ds.uid, ds.width, ds.height, ds.fps, ds.bpp, ds.fmt, ds.intrinsics = (
            r.stream.depth, 0, 0, w, h, fps, 2, r.format.z16, rs_intr)
        depth_profile = depth_sensor.add_video_stream(ds, True)
        depth_sensor.add_read_only_option(r.option.depth_units, depth_units_m)
        ident = r.extrinsics()
        ident.rotation = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]
        ident.translation = [0.0, 0.0, 0.0]
        depth_profile.register_extrinsics_to(color_profile, ident)
        sensors.append((depth_sensor, depth_profile, 2, "depth"))
    sensors.append((color_sensor, color_profile, 3, "color"))

    recorder = r.recorder(str(path), dev, False)  # False: no compression -> bit-exact playback
    keep_alive: list[np.ndarray] = []  # the SDK references pixel memory until the frame is released
    for sensor, profile, _, _ in sensors:
        sensor.open(profile)
        sensor.start(lambda frame: None)
    try:
        for i, f in enumerate(frames):
            ts_ms = float(f.stamp) * 1000.0
            for sensor, profile, bpp, kind in (sensors[::-1] if i == 0 else sensors):
                arr = np.ascontiguousarray(f.depth if kind == "depth" else f.color,
                                           dtype=np.uint16 if kind == "depth" else np.uint8)
                keep_alive.append(arr)
                sf = r.software_video_frame()
                sf.pixels, sf.bpp, sf.stride = arr, bpp, w * bpp
                sf.timestamp, sf.domain, sf.frame_number = ts_ms, r.timestamp_domain.global_time, i
                sf.profile = profile.as_video_stream_profile()
                if kind == "depth":
                    sf.depth_units = depth_units_m
                sensor.on_video_frame(sf)
    finally:
        for sensor, _, _, _ in sensors:
            sensor.stop()
            sensor.close()
        del recorder  # the recorder finalises the file when released
        gc.collect()
    keep_alive.clear()
    return path


# ----------------------------------------------------------------------------- the driver


class RealSenseCamera(CameraDriver):
    """CameraDriver for a RealSense D4xx, or a `.db3` recording played through the same pipeline."""

    configure_on_activate = True  # activate() alone opens the device: a camera has nothing to set up first

    def __init__(self, config: RealSenseConfig | dict[str, Any], clock: Callable[[], float] = time.monotonic):
        self.config = config if isinstance(config, RealSenseConfig) else RealSenseConfig.model_validate(config)
        self._clock = clock
        self._lock = threading.Condition()
        self._queue: collections.deque[CameraFrame] = collections.deque()
        self._pipeline: Any = None
        self._align: Any = None
        self._intrinsics: CameraIntrinsics | None = None
        self._device_info: dict[str, str] = {}
        self._depth_units = 0.001
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._connected = False
        self._ended = False
        self._lost = threading.Event()  # set by the devices-changed callback
        self._last_error: str | None = None
        self._reconnects = 0
        self._reconnect_failures = 0
        self._next_retry = 0.0
        self._last_frame_wall: float | None = None
        self._last_color_number: int | None = None
        self._last_stamp: float | None = None
        self._delivered = 0
        self._produced = 0
        self._dropped = 0
        self._option_warnings: list[str] = []
        self._ctx: Any = None
        self._domain = ""
        self._opened_at = 0.0
        self._has_depth = False
        self._color_format = "rgb8"

    @property
    def is_playback(self) -> bool:
        return self.config.playback_file is not None

    @property
    def driver_name(self) -> str:
        return f"RealSenseCamera {self.config.playback_file or self.config.serial or '(first camera)'}"

    # -- lifecycle steps (the order is enforced by CameraDriver)

    def _on_configure(self) -> None:
        """Open the device/file once to validate it and read intrinsics; raises DriverError with a fix."""
        _require_rs()
        if self._pipeline is None:
            self._open()

    def _on_activate(self) -> None:
        if self._pipeline is None and not self._connected:
            self._on_configure()  # lost since configure() (and no grabber yet to reconnect)
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._grab_loop, name="realsense-grab", daemon=True)
            self._thread.start()

    def _on_close(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=3.0)
            self._thread = None
        self._teardown()
        if self._ctx is not None:
            try:
                self._ctx.set_devices_changed_callback(lambda info: None)
            except RuntimeError:
                pass
            self._ctx = None

    # -- data

    def _read_frame(self) -> CameraFrame | None:
        with self._lock:
            if not self._queue:
                return None
            if self.is_playback and not self.config.playback_real_time:
                frame = self._queue.popleft()  # in order: recordings are replayed frame by frame
            else:
                frame = self._queue.pop()  # newest; older ones are stale for a live controller
                self._dropped += len(self._queue)
                self._queue.clear()
            self._delivered += 1
            self._lock.notify_all()
            return frame

    def _color_intrinsics(self) -> CameraIntrinsics:
        if self._intrinsics is None:
            raise DriverError("RealSenseCamera.intrinsics() before configure()")
        return self._intrinsics

    def camera_info(self, stamp: float = 0.0) -> CameraInfo:
        return camera_info_from_intrinsics(self.intrinsics(), stamp, self.config.frame_id)

    def diagnostics(self) -> list[Diagnostic]:
        src = self.config.playback_file or self.config.serial or "first camera"
        name = f"camera/realsense {src}"
        values = {"frames": str(self._produced), "delivered": str(self._delivered), "dropped": str(self._dropped),
                  "reconnects": str(self._reconnects), "timestamp_domain": self._domain, **self._device_info}
        if self._option_warnings:
            values["option_warnings"] = "; ".join(self._option_warnings)
        if not self._connected:
            if self._last_error is None:
                return [Diagnostic(Diagnostic.STALE, name, "not opened", values)]
            values["fix"] = self._fix_hint()
            values["retry_in_s"] = f"{max(0.0, self._next_retry - time.monotonic()):.2f}"
            values["failed_attempts"] = str(self._reconnect_failures)
            return [Diagnostic(Diagnostic.ERROR, name, f"camera lost: {self._last_error}; reconnecting", values)]
        if self._ended:
            return [Diagnostic(Diagnostic.STALE, name, "playback finished", values)]
        age = None if self._last_frame_wall is None else time.monotonic() - self._last_frame_wall
        if self.is_active and (age is None or age > self.config.stale_after_s):
            values["age_s"] = "never" if age is None else f"{age:.2f}"
            return [Diagnostic(Diagnostic.STALE, name, "no recent frames", values)]
        level = Diagnostic.WARN if self._option_warnings else Diagnostic.OK
        return [Diagnostic(level, name, "streaming" if self.is_active else "configured", values)]

    # -- internals: open / close

    def _fix_hint(self) -> str:
        if self.is_playback:
            return f"check that {self.config.playback_file} exists and is a RealSense .db3/.bag recording"
        return ("check the USB3 cable/port (use a USB3 port, not a hub), `rs-enumerate-devices`, "
                "udev rules (99-realsense-libusb.rules); `being-h0 doctor` lists connected serials")

    def _open(self) -> None:
        r = _require_rs()
        cfg = r.config()
        if self.is_playback:
            path = Path(self.config.playback_file or "")
            if not path.is_file():
                raise DriverError(f"camera.playback_file {str(path)!r} does not exist")
            cfg.enable_device_from_file(str(path), repeat_playback=False)
        else:
            if self._ctx is None:
                self._ctx = r.context()
                self._ctx.set_devices_changed_callback(self._on_devices_changed)
            devices = list_devices(self._ctx)
            serials = [d["serial"] for d in devices]
            if not devices:
                raise DriverError("no RealSense camera connected. Fix: " + self._fix_hint())
            serial = self.config.serial or serials[0]
            if serial not in serials:
                raise DriverError(f"camera.serial {serial!r} not connected; connected: {serials}")
            cfg.enable_device(serial)
            cfg.enable_stream(r.stream.color, self.config.width, self.config.height, r.format.rgb8, self.config.fps)
            if self.config.enable_depth:
                cfg.enable_stream(r.stream.depth, self.config.width, self.config.height, r.format.z16,
                                  self.config.fps)
        pipeline = r.pipeline(self._ctx) if self._ctx is not None else r.pipeline()
        try:
            if self.is_playback:
                # Resolve first: start() reuses the resolved playback device, so the pace is set
                # before the first frame is read (a real-time start can skip frames).
                resolved = cfg.resolve(r.pipeline_wrapper(pipeline))
                resolved.get_device().as_playback().set_real_time(self.config.playback_real_time)
            profile = pipeline.start(cfg)
        except RuntimeError as exc:
            src = self.config.playback_file or self.config.serial or "camera"
            raise DriverError(f"RealSense {src!r}: cannot start streaming: {exc}. Fix: {self._fix_hint()}") from exc
        try:
            self._setup_profile(profile)
        except Exception:
            pipeline.stop()
            raise
        self._pipeline = pipeline
        self._connected = True
        self._lost.clear()
        self._last_color_number = None
        self._ended = False
        self._opened_at = time.monotonic()

    def _setup_profile(self, profile: Any) -> None:
        r = rs
        dev = profile.get_device()
        info = {}
        for key, ci in (("serial", r.camera_info.serial_number), ("name", r.camera_info.name),
                        ("firmware", r.camera_info.firmware_version)):
            if dev.supports(ci):
                info[key] = dev.get_info(ci)
        self._device_info = info
        streams = {s.stream_type(): s for s in profile.get_streams()}
        if r.stream.color not in streams:
            raise DriverError(f"RealSense {self.config.playback_file or info.get('serial')}: no colour stream")
        self._color_format = str(streams[r.stream.color].format()).split(".")[-1]
        if self._color_format not in ("rgb8", "bgr8", "rgba8", "bgra8"):
            raise DriverError(f"unsupported RealSense colour format {self._color_format!r}")
        self._intrinsics = intrinsics_from_rs(streams[r.stream.color].as_video_stream_profile().get_intrinsics())
        has_depth = r.stream.depth in streams and self.config.enable_depth
        self._has_depth = has_depth
        self._align = r.align(r.stream.color) if has_depth and self.config.align_depth else None
        self._depth_units = 0.001
        if not self.is_playback:
            self._option_warnings = []
            for sensor in dev.query_sensors():
                opts: dict[Any, float] = {}
                if self.config.global_time and sensor.supports(r.option.global_time_enabled):
                    opts[r.option.global_time_enabled] = 1.0
                if sensor.is_color_sensor():
                    opts[r.option.enable_auto_exposure] = 1.0 if self.config.auto_exposure else 0.0
                    if not self.config.auto_exposure:
                        if self.config.exposure_us is not None:
                            opts[r.option.exposure] = self.config.exposure_us
                        if self.config.gain is not None:
                            opts[r.option.gain] = self.config.gain
                self._option_warnings += apply_sensor_options(sensor, opts)
        if has_depth:
            for sensor in dev.query_sensors():
                if sensor.is_depth_sensor():
                    self._depth_units = float(sensor.as_depth_sensor().get_depth_scale())

    def _teardown(self) -> None:
        p, self._pipeline = self._pipeline, None
        self._connected = False
        if p is not None:
            try:
                p.stop()
            except RuntimeError:
                pass  # already stopped (e.g. by the device vanishing)

    def _on_devices_changed(self, info: Any) -> None:
        """librealsense hot-plug callback: flag our device as lost; the grabber reconnects."""
        pipeline = self._pipeline
        if pipeline is None:
            return
        try:
            if info.was_removed(pipeline.get_active_profile().get_device()):
                self._last_error = f"device {self._device_info.get('serial', '?')} removed"
                self._lost.set()
        except RuntimeError:
            self._lost.set()

    # -- internals: the grabber thread

    def _lose(self, why: str) -> None:
        self._last_error = why
        self._teardown()
        self._next_retry = time.monotonic() + self._backoff()

    def _backoff(self) -> float:
        return min(self.config.reconnect_max_s, self.config.reconnect_initial_s * (2 ** self._reconnect_failures))

    def _grab_loop(self) -> None:
        timeout_ms = int(self.config.frame_timeout_ms)
        while not self._stop.is_set():
            if not self._connected:
                if time.monotonic() < self._next_retry:
                    self._stop.wait(min(0.05, max(0.0, self._next_retry - time.monotonic())))
                    continue
                try:
                    self._open()
                    self._reconnects += 1
                    self._reconnect_failures = 0
                    self._last_error = None
                except Exception as exc:  # noqa: BLE001 - a rig keeps trying, the node keeps running
                    self._reconnect_failures += 1
                    self._last_error = str(exc)
                    self._next_retry = time.monotonic() + self._backoff()
                continue
            if self._lost.is_set():
                self._lose(self._last_error or "device removed")
                continue
            pipeline = self._pipeline
            if pipeline is None:
                continue
            try:
                ok, fs = pipeline.try_wait_for_frames(min(timeout_ms, 100))
            except RuntimeError as exc:
                self._lose(f"pipeline failed: {exc}")
                continue
            if not ok:
                if self.is_playback and not os.path.exists(str(self.config.playback_file)):
                    self._lose(f"recording {self.config.playback_file} vanished")  # the playback twin of an unplug
                    continue
                if self.is_playback and self._playback_stopped(pipeline):
                    self._ended = True
                    self._stop.wait(0.05)
                    continue
                ref = max(self._last_frame_wall or 0.0, self._opened_at)
                if time.monotonic() - ref > timeout_ms / 1000.0:
                    self._lose(f"no frame for {timeout_ms} ms")
                continue
            try:
                frame = self._convert(fs)
            except RuntimeError as exc:
                self._lose(f"frame processing failed: {exc}")
                continue
            if frame is None:
                continue
            self._push(frame)

    def _playback_stopped(self, pipeline: Any) -> bool:
        try:
            pb = pipeline.get_active_profile().get_device().as_playback()
            return pb.current_status() == rs.playback_status.stopped
        except RuntimeError:
            return False

    def _convert(self, fs: Any) -> CameraFrame | None:
        color = fs.get_color_frame()
        if not color:
            return None
        number = int(color.get_frame_number())
        if number == self._last_color_number:
            return None  # the syncer re-sent a colour frame paired with a newer depth frame
        if self._has_depth and not fs.get_depth_frame():
            return None  # colour-only set (stream start): its depth partner follows in the next set
        stamp = float(color.get_timestamp()) / 1000.0
        if self.is_playback and self._last_stamp is not None and stamp <= self._last_stamp:
            return None  # after a reconnect, playback restarts: skip what was delivered already
        self._last_color_number = number
        self._domain = str(color.get_frame_timestamp_domain()).split(".")[-1]
        if self._align is not None:
            fs = self._align.process(fs)
            color = fs.get_color_frame()
        rgb = color_to_rgb(np.asanyarray(color.get_data()), self._color_format)
        depth = None
        if self._has_depth:
            d = fs.get_depth_frame()
            if d:
                depth = depth_to_mm(np.asanyarray(d.get_data()), self._depth_units)
        self._last_stamp = stamp
        self._produced += 1
        return CameraFrame(stamp=stamp, color=rgb, depth=depth, frame_id=self.config.frame_id,
                           sequence=self._produced - 1)

    def _push(self, frame: CameraFrame) -> None:
        self._last_frame_wall = time.monotonic()
        with self._lock:
            if self.is_playback and not self.config.playback_real_time:
                # back-pressure: hold the playback thread until the node has room (no drops).
                # A loss ends the wait: the held frame is queued one over the limit (it is already
                # counted as delivered for the after-reconnect dedupe, so dropping it would lose it)
                # and the grabber goes on to tear the pipeline down and report the loss.
                while (len(self._queue) >= self.config.queue_size and not self._stop.is_set()
                       and not self._lost.is_set()):
                    self._lock.wait(0.05)
                    self._last_frame_wall = time.monotonic()
            else:
                while len(self._queue) >= self.config.queue_size:
                    self._queue.popleft()
                    self._dropped += 1
            self._queue.append(frame)
