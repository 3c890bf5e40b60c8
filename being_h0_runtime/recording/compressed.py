"""sensor_msgs/CompressedImage: the recorder stores camera frames as JPEG to keep
episodes small (a 640x480 rgb8 stream at 30 Hz is ~27 MB/s raw, ~1 MB/s as JPEG).

Kept here (not in `being_h0_runtime.msgs`) because only recording and dataset
export produce or consume it; importing this module registers the type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..msgs.base import Message
from ..msgs.sensor import Image
from ..msgs.std import Header


@dataclass(eq=False)
class CompressedImage(Message):
    _type = "sensor_msgs/msg/CompressedImage"
    _fields = (
        ("header", "std_msgs/Header"),
        ("format", "string"),
        ("data", "uint8[]"),
    )
    header: Header = field(default_factory=Header)
    #: image_transport convention, e.g. "rgb8; jpeg compressed bgr8"
    format: str = ""
    data: bytes = b""


def compress_image(msg: Image, quality: int = 90) -> CompressedImage:
    """JPEG-encode an rgb8/bgr8/mono8 Image the way image_transport's compressed plugin names it."""
    import cv2

    from ..msgs.convert import image_to_array

    arr = image_to_array(msg)
    if msg.encoding == "rgb8":
        arr = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2BGR)
        fmt = "rgb8; jpeg compressed bgr8"
    elif msg.encoding == "bgr8":
        fmt = "bgr8; jpeg compressed bgr8"
    elif msg.encoding == "mono8":
        fmt = "mono8; jpeg compressed mono8"
    else:
        raise ValueError(f"cannot JPEG-compress image encoding {msg.encoding!r} (rgb8, bgr8, mono8 only)")
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(arr), [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise RuntimeError("cv2.imencode failed")
    return CompressedImage(header=msg.header, format=fmt, data=buf.tobytes())


def decompress_image(msg: CompressedImage) -> np.ndarray:
    """Decode to an RGB (H, W, 3) uint8 array (or (H, W) for mono)."""
    import cv2

    arr = cv2.imdecode(np.frombuffer(msg.data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ValueError(f"undecodable CompressedImage (format {msg.format!r}, {len(msg.data)} bytes)")
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    return arr
