"""Synthetic RealSense recordings: frames written by the SDK's own recorder from a software device.

Recordings made by the virtual rig or by tests are therefore the real format,
replayable by `realsense-viewer` and by :class:`~.realsense.RealSenseCamera`.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..base import CameraFrame, CameraIntrinsics
from .realsense_convert import intrinsics_to_rs, require_rs

#: (sensor, stream profile, bytes per pixel, "color" | "depth") of the software device
_Sensor = tuple[Any, Any, int, str]


def record_synthetic_db3(path: str | os.PathLike[str], frames: Sequence[CameraFrame], intrinsics: CameraIntrinsics,
                         fps: int = 30, depth_units_m: float = 0.001, serial: str = "SYNTH0001",
                         name: str = "Being-H0 virtual D435", depth_lag_frames: int = 0) -> Path:
    """Write `frames` as a RealSense recording (`.db3` rosbag2 or `.bag`) using the SDK's own recorder.

    A software device with an "RGB Camera" (rgb8) and a "Stereo Module" (z16)
    sensor, both carrying `intrinsics` and identity extrinsics, feeds
    `rs.recorder`. Compression is off, so playback is bit-exact. Each frame's
    `stamp` (s) becomes its global-time timestamp (ms). `depth_lag_frames` writes each
    depth frame that many frames after its colour frame, as a busy recorder's sensor
    threads may: a reader must pair by timestamp, not by order in the file.
    """
    r = require_rs()
    path = Path(path)
    if path.suffix not in (".db3", ".bag"):
        raise ValueError(f"{path}: recording must end in .db3 (rosbag2) or .bag")
    with_depth = _check_frames(frames, intrinsics)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    dev, sensors = _software_device(r, intrinsics, fps, depth_units_m, serial, name, with_depth)
    recorder = r.recorder(str(path), dev, False)  # False: no compression -> bit-exact playback
    keep_alive: list[np.ndarray] = []  # the SDK references pixel memory until the frame is released
    for sensor, profile, _, _ in sensors:
        sensor.open(profile)
        sensor.start(lambda frame: None)
    try:
        _push_frames(r, sensors, frames, intrinsics.width, depth_units_m, keep_alive, depth_lag_frames)
    finally:
        for sensor, _, _, _ in sensors:
            sensor.stop()
            sensor.close()
        del recorder  # the recorder finalises the file when released
        gc.collect()
    keep_alive.clear()
    return path


def _check_frames(frames: Sequence[CameraFrame], intrinsics: CameraIntrinsics) -> bool:
    """ValueError naming the first bad frame; True when the frames carry depth (as frame 0 does)."""
    if not frames:
        raise ValueError("record_synthetic_db3 needs at least one frame")
    w, h = intrinsics.width, intrinsics.height
    with_depth = frames[0].depth is not None
    for i, f in enumerate(frames):
        if f.color.shape != (h, w, 3) or f.color.dtype != np.uint8:
            raise ValueError(f"frame {i}: color must be uint8 ({h}, {w}, 3), got {f.color.dtype} {f.color.shape}")
        if with_depth and (f.depth is None or f.depth.shape != (h, w)):
            raise ValueError(f"frame {i}: depth must be ({h}, {w}) like frame 0")
    return with_depth


def _software_device(r: Any, intrinsics: CameraIntrinsics, fps: int, depth_units_m: float, serial: str, name: str,
                     with_depth: bool) -> tuple[Any, list[_Sensor]]:
    """An rs.software_device posing as a D4xx; its sensors, depth (if any) first."""
    dev = r.software_device()
    dev.register_info(r.camera_info.name, name)
    dev.register_info(r.camera_info.serial_number, serial)
    dev.register_info(r.camera_info.firmware_version, "0.0.0.0")
    rs_intr = intrinsics_to_rs(intrinsics)
    w, h = intrinsics.width, intrinsics.height
    sensors: list[_Sensor] = []
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
    return dev, sensors


def _push_frames(r: Any, sensors: list[_Sensor], frames: Sequence[CameraFrame], width: int,
                 depth_units_m: float, keep_alive: list[np.ndarray], depth_lag_frames: int = 0) -> None:
    """Every frame into the started sensors, stamped in global time; pixel buffers go to `keep_alive`.

    Frame 0 pushes colour first (rs.pipeline drops framesets until it has seen colour); later frames
    push depth first, unless `depth_lag_frames` delays each depth frame behind later colour frames.
    """
    by_kind = {kind: (sensor, profile, bpp) for sensor, profile, bpp, kind in sensors}
    order: list[tuple[int, str]] = []
    for i in range(len(frames)):
        kinds = ["color", "depth"] if i == 0 or depth_lag_frames else ["depth", "color"]
        for kind in kinds:
            j = i - depth_lag_frames if kind == "depth" else i
            if kind in by_kind and j >= 0:
                order.append((j, kind))
    if "depth" in by_kind:
        order += [(j, "depth") for j in range(max(0, len(frames) - depth_lag_frames), len(frames))
                  if depth_lag_frames]
    for i, kind in order:
        f = frames[i]
        sensor, profile, bpp = by_kind[kind]
        arr = np.ascontiguousarray(f.depth if kind == "depth" else f.color,
                                   dtype=np.uint16 if kind == "depth" else np.uint8)
        keep_alive.append(arr)
        sf = r.software_video_frame()
        sf.pixels, sf.bpp, sf.stride = arr, bpp, width * bpp
        sf.timestamp, sf.domain, sf.frame_number = float(f.stamp) * 1000.0, r.timestamp_domain.global_time, i
        sf.profile = profile.as_video_stream_profile()
        if kind == "depth":
            sf.depth_units = depth_units_m
        sensor.on_video_frame(sf)
