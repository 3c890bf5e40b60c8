"""The teleop input packet: one JSON object per UDP datagram (UTF-8, at most 8 KiB).

::

    {
      "v": 1,                        # schema version (required, must be 1)
      "t": 1712345678.125,           # sender timestamp, seconds (required, float)
      "seq": 1042,                   # sender sequence number (optional, int; used to drop reordered packets)
      "frame": "wrist",              # "wrist" or "camera": the frame of the keypoints (optional, default wrist)
      "keypoints": [[x, y, z], ...], # 21 hand keypoints in metres, MediaPipe order (required):
                                     #   0 wrist; 1-4 thumb CMC, MCP, IP, TIP; 5-8 index MCP, PIP, DIP, TIP;
                                     #   9-12 middle; 13-16 ring; 17-20 little
      "wrist": {"p": [x, y, z],      # wrist position in the operator's tracking frame, metres (required)
                "q": [x, y, z, w]},  # wrist orientation quaternion (x, y, z, w), any norm > 0 (required)
      "clutch": true,                # operator holds the clutch: the robot follows (required, bool)
      "token": "s3cret"              # shared secret (required when the server is not bound to loopback)
    }

Finger closures are computed from angles between bones, which do not depend on
the frame, so "wrist" and "camera" keypoints are both accepted as they are.
"""

from __future__ import annotations

import hmac
import json
import math
from dataclasses import dataclass

import numpy as np

SCHEMA_VERSION = 1
MAX_PACKET_BYTES = 8192
N_KEYPOINTS = 21


class PacketError(ValueError):
    """A packet that does not follow the schema (the message names the field)."""


class AuthError(PacketError):
    """Missing or wrong token."""


@dataclass
class TeleopFrame:
    t: float
    keypoints: np.ndarray  # (21, 3) float64
    wrist_pos: np.ndarray  # (3,)
    wrist_quat: np.ndarray  # (4,) x, y, z, w, unit norm
    clutch: bool
    seq: int = -1
    frame: str = "wrist"


def encode(frame: TeleopFrame, token: str = "") -> bytes:
    obj = {
        "v": SCHEMA_VERSION, "t": float(frame.t), "seq": int(frame.seq), "frame": frame.frame,
        "keypoints": np.round(np.asarray(frame.keypoints, dtype=float), 6).tolist(),
        "wrist": {"p": [float(x) for x in frame.wrist_pos], "q": [float(x) for x in frame.wrist_quat]},
        "clutch": bool(frame.clutch),
    }
    if token:
        obj["token"] = token
    return json.dumps(obj, separators=(",", ":")).encode()


def _finite_array(value: object, shape: tuple[int, ...], name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise PacketError(f"field {name!r}: expected numbers of shape {shape}") from None
    if arr.shape != shape:
        raise PacketError(f"field {name!r}: expected shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise PacketError(f"field {name!r}: contains NaN or inf")
    return arr


def decode(data: bytes, token: str = "") -> TeleopFrame:
    """Parse and validate one packet; `token` non-empty means the packet must carry it."""
    if len(data) > MAX_PACKET_BYTES:
        raise PacketError(f"packet of {len(data)} bytes exceeds {MAX_PACKET_BYTES}")
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PacketError(f"not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise PacketError("packet must be a JSON object")
    if token:
        got = obj.get("token")
        if not isinstance(got, str) or not hmac.compare_digest(got.encode(), token.encode()):
            raise AuthError("missing or wrong 'token'")
    if obj.get("v") != SCHEMA_VERSION:
        raise PacketError(f"field 'v': expected {SCHEMA_VERSION}, got {obj.get('v')!r}")
    t = obj.get("t")
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t):
        raise PacketError("field 't': expected a finite number (seconds)")
    frame = obj.get("frame", "wrist")
    if frame not in ("wrist", "camera"):
        raise PacketError(f"field 'frame': expected 'wrist' or 'camera', got {frame!r}")
    kp = _finite_array(obj.get("keypoints"), (N_KEYPOINTS, 3), "keypoints")
    wrist = obj.get("wrist")
    if not isinstance(wrist, dict):
        raise PacketError("field 'wrist': expected {'p': [x,y,z], 'q': [x,y,z,w]}")
    p = _finite_array(wrist.get("p"), (3,), "wrist.p")
    q = _finite_array(wrist.get("q"), (4,), "wrist.q")
    n = float(np.linalg.norm(q))
    if n < 1e-6:
        raise PacketError("field 'wrist.q': zero quaternion")
    clutch = obj.get("clutch")
    if not isinstance(clutch, bool):
        raise PacketError("field 'clutch': expected true or false")
    seq = obj.get("seq", -1)
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise PacketError("field 'seq': expected an integer")
    return TeleopFrame(float(t), kp, p, q / n, clutch, seq, frame)
