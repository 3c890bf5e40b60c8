"""Intel RealSense backend (pyrealsense2): live D4xx cameras and `.db3` playback.

Why this shape:

* One frame path for a live camera and a recording: a live D4xx streams
  through an `rs.pipeline` (selected by serial number); a recording through
  :class:`~.realsense_playback.RecordingReader`, which pairs colour and depth
  by recorded timestamp (the pipeline's syncer pairs by arrival and, on a
  busy machine, mismatches and drops recorded frames). Both hand the grabber
  SDK framesets, so tests and the virtual rig run the same frame handling
  (alignment, format conversion, timestamps) as a rig.
* A grabber thread owns the pipeline. `read()` never blocks: it hands out the
  newest frame (live) or the next frame in order (non-real-time playback,
  where the grabber applies back-pressure so nothing is dropped).
* A camera that vanishes (USB unplug, `wait_for_frames` timeout, pipeline
  stopped underneath us, file gone) never raises into the node: `read()`
  returns None, `diagnostics()` says STALE/ERROR with a fix, and the grabber
  retries with exponential back-off.
* `record_synthetic_db3` (in :mod:`.realsense_record`) writes recordings with
  a software device and the SDK's own recorder, so recordings made by the
  virtual rig are the real format, replayable by `realsense-viewer` and by
  this backend.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...msgs.sensor import CameraInfo
from ..base import CameraDriver, CameraFrame, CameraIntrinsics, Diagnostic, DriverError
from ..loop import DriverLoop
from .realsense_config import RealSenseConfig
from .realsense_convert import (
    apply_sensor_options,
    camera_info_from_intrinsics,
    color_to_rgb,
    depth_to_mm,
    device_info,
    intrinsics_from_rs,
    list_devices,
    live_sensor_options,
    require_rs,
)
from .realsense_playback import RecordingReader

#: how long a playback may take to start before a "stopped" status means the recording is over
PLAYBACK_START_GRACE_S = 2.0

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
        self._grabber = DriverLoop(self._grab_loop, "realsense-grab", self._lock, join_timeout_s=3.0)
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
        require_rs()
        if self._pipeline is None:
            self._open()

    def _on_activate(self) -> None:
        if self._pipeline is None and not self._connected:
            self._on_configure()  # lost since configure() (and no grabber yet to reconnect)
        self._grabber.start()

    def _on_close(self) -> None:
        self._grabber.stop()
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
        if isinstance(self._pipeline, RecordingReader) and self._pipeline.unpaired:
            values["colour_without_depth"] = str(self._pipeline.unpaired)
            values["depth_lost_at_end"] = str(self._pipeline.depth_lost_at_end)
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
        r = require_rs()
        if self.is_playback:
            self._open_recording(r)
        else:
            self._open_device(r)
        self._connected = True
        self._lost.clear()
        self._last_color_number = None
        self._ended = False
        self._opened_at = time.monotonic()

    def _open_recording(self, r: Any) -> None:
        """A recording is read sensor by sensor and paired by timestamp (realsense_playback.py says why)."""
        path = Path(self.config.playback_file or "")
        if not path.is_file():
            raise DriverError(f"camera.playback_file {str(path)!r} does not exist")
        try:
            reader = RecordingReader(r, str(path), real_time=self.config.playback_real_time,
                                     want_depth=self.config.enable_depth)
            self._setup_profile(reader)
            reader.start()
        except RuntimeError as exc:
            raise DriverError(f"RealSense {str(path)!r}: cannot start streaming: {exc}. Fix: {self._fix_hint()}") from exc
        self._pipeline = reader

    def _open_device(self, r: Any) -> None:
        cfg = r.config()
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
            cfg.enable_stream(r.stream.depth, self.config.width, self.config.height, r.format.z16, self.config.fps)
        pipeline = r.pipeline(self._ctx)
        try:
            profile = pipeline.start(cfg)
        except RuntimeError as exc:
            raise DriverError(f"RealSense {serial!r}: cannot start streaming: {exc}. Fix: {self._fix_hint()}") from exc
        try:
            self._setup_profile(profile)
        except Exception:
            pipeline.stop()
            raise
        self._pipeline = pipeline

    def _setup_profile(self, profile: Any) -> None:
        r = require_rs()
        dev = profile.get_device()
        info = device_info(dev)
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
                self._option_warnings += apply_sensor_options(sensor, live_sensor_options(sensor, self.config))
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
        while not self._grabber.stopping.is_set():
            if not self._connected:
                if time.monotonic() < self._next_retry:
                    self._grabber.stopping.wait(min(0.05, max(0.0, self._next_retry - time.monotonic())))
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
                # "stopped" also reads before a real-time playback has started: it counts as the end only
                # once a frame came from this opening, or the start-up grace passed (an empty recording)
                started = self._last_frame_wall is not None and self._last_frame_wall >= self._opened_at
                if (self.is_playback and self._playback_stopped(pipeline)
                        and (started or time.monotonic() - self._opened_at > PLAYBACK_START_GRACE_S)):
                    self._ended = True
                    self._grabber.stopping.wait(0.05)
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
            self._ended = False
            self._push(frame)

    def _playback_stopped(self, pipeline: Any) -> bool:
        return isinstance(pipeline, RecordingReader) and pipeline.finished()

    def _convert(self, fs: Any) -> CameraFrame | None:
        color = fs.get_color_frame()
        if not color:
            return None
        number = int(color.get_frame_number())
        if number == self._last_color_number:
            return None  # the syncer re-sent a colour frame paired with a newer depth frame
        depth_lost = isinstance(self._pipeline, RecordingReader) and not fs.get_depth_frame()
        if self._has_depth and not fs.get_depth_frame() and not depth_lost:
            return None  # colour-only set (stream start): its depth partner follows in the next set
        stamp = float(color.get_timestamp()) / 1000.0
        if self.is_playback and self._last_stamp is not None and stamp <= self._last_stamp:
            return None  # after a reconnect, playback restarts: skip what was delivered already
        self._last_color_number = number
        self._domain = str(color.get_frame_timestamp_domain()).split(".")[-1]
        if self._align is not None and not depth_lost:  # (a recording's last frame may have lost its depth)
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
                if len(self._queue) >= self.config.queue_size and isinstance(self._pipeline, RecordingReader):
                    self._pipeline.hold()  # the playback waits with us (realsense_playback.py)
                while (len(self._queue) >= self.config.queue_size and not self._grabber.stopping.is_set()
                       and not self._lost.is_set()):
                    self._lock.wait(0.05)
                    self._last_frame_wall = time.monotonic()
            else:
                while len(self._queue) >= self.config.queue_size:
                    self._queue.popleft()
                    self._dropped += 1
            self._queue.append(frame)
