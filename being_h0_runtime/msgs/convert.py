"""numpy helpers: images, chunks, joint states, poses <-> messages."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .being_h0 import ActionChunk
from .geometry import Point, Pose, Quaternion
from .sensor import CameraInfo, Image, JointState
from .std import Header, Time

_ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype("u1"), 3),
    "bgr8": (np.dtype("u1"), 3),
    "mono8": (np.dtype("u1"), 1),
    "16UC1": (np.dtype("<u2"), 1),
    "mono16": (np.dtype("<u2"), 1),
    "32FC1": (np.dtype("<f4"), 1),
}


def header(stamp: float, frame_id: str = "") -> Header:
    return Header(stamp=Time.from_sec(stamp), frame_id=frame_id)


def image_from_array(array: np.ndarray, encoding: str = "rgb8", stamp: float = 0.0, frame_id: str = "") -> Image:
    """Wrap an (H, W[, C]) array as sensor_msgs/Image without per-pixel work."""
    if encoding not in _ENCODINGS:
        raise ValueError(f"unsupported image encoding {encoding!r}; supported: {sorted(_ENCODINGS)}")
    dtype, channels = _ENCODINGS[encoding]
    arr = np.ascontiguousarray(array, dtype=dtype)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] != channels:
        raise ValueError(f"{encoding} needs shape (H, W, {channels}), got {array.shape}")
    h, w = arr.shape[:2]
    return Image(
        header=header(stamp, frame_id),
        height=h,
        width=w,
        encoding=encoding,
        is_bigendian=0,
        step=w * channels * dtype.itemsize,
        data=arr.tobytes(),
    )


def image_to_array(msg: Image) -> np.ndarray:
    """A read-only (H, W, C) view (or (H, W) for one channel) of the image bytes."""
    if msg.encoding not in _ENCODINGS:
        raise ValueError(f"unsupported image encoding {msg.encoding!r}")
    dtype, channels = _ENCODINGS[msg.encoding]
    row = msg.width * channels * dtype.itemsize
    if msg.step < row or len(msg.data) < msg.step * msg.height:
        raise ValueError(
            f"image data too short: {len(msg.data)} bytes for {msg.height}x{msg.width} step {msg.step}"
        )
    buf = np.frombuffer(msg.data, dtype=np.uint8, count=msg.step * msg.height).reshape(msg.height, msg.step)
    arr = buf[:, :row].view(dtype).reshape(msg.height, msg.width, channels)
    return arr[:, :, 0] if channels == 1 else arr


def camera_info(width: int, height: int, fx: float, fy: float, cx: float, cy: float, stamp: float = 0.0,
                frame_id: str = "", distortion: Sequence[float] = (0, 0, 0, 0, 0),
                distortion_model: str = "plumb_bob") -> CameraInfo:
    k = np.array([fx, 0, cx, 0, fy, cy, 0, 0, 1], dtype="<f8")
    p = np.array([fx, 0, cx, 0, 0, fy, cy, 0, 0, 0, 1, 0], dtype="<f8")
    return CameraInfo(header=header(stamp, frame_id), height=height, width=width,
                      distortion_model=distortion_model, d=np.asarray(distortion, dtype="<f8"),
                      k=k, r=np.eye(3).ravel().astype("<f8"), p=p)


def chunk_from_array(actions: np.ndarray, names: Sequence[str], step_dt: float, stamp: float,
                     source_stamp: float, engine_id: str = "", sequence: int = 0) -> ActionChunk:
    actions = np.asarray(actions, dtype=np.float32)
    if actions.ndim != 2 or actions.shape[1] != len(names):
        raise ValueError(f"chunk shape {actions.shape} does not match {len(names)} action names")
    return ActionChunk(header=header(stamp), source_stamp=Time.from_sec(source_stamp), names=list(names),
                       steps=actions.shape[0], dims=actions.shape[1], step_dt=float(step_dt),
                       data=actions.ravel().astype("<f4"), engine_id=engine_id, sequence=sequence)


def chunk_to_array(msg: ActionChunk) -> np.ndarray:
    """(steps, dims) float32 array; raises ValueError on inconsistent sizes."""
    data = np.asarray(msg.data, dtype=np.float32)
    if msg.dims != len(msg.names) or data.size != msg.steps * msg.dims:
        raise ValueError(
            f"malformed ActionChunk: steps={msg.steps} dims={msg.dims} names={len(msg.names)} data={data.size}"
        )
    return data.reshape(msg.steps, msg.dims)


def joint_state(names: Sequence[str], position: Sequence[float], velocity: Sequence[float] = (),
                effort: Sequence[float] = (), stamp: float = 0.0, frame_id: str = "") -> JointState:
    return JointState(header=header(stamp, frame_id), name=list(names),
                      position=np.asarray(position, dtype="<f8"), velocity=np.asarray(velocity, dtype="<f8"),
                      effort=np.asarray(effort, dtype="<f8"))


def pose(position: Sequence[float], quat_xyzw: Sequence[float]) -> Pose:
    return Pose(position=Point(*map(float, position)), orientation=Quaternion(*map(float, quat_xyzw)))


def pose_to_arrays(p: Pose) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([p.position.x, p.position.y, p.position.z]),
            np.array([p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w]))
