"""Virtual-rig camera: frames rendered by the virtual rig node, received over
the transport like a USB camera's frames arrive over USB."""

from __future__ import annotations

from ...msgs import CameraInfo, Image
from ...msgs.convert import image_to_array
from ...transport.api import LATCHED_QOS, SENSOR_QOS, NodeHandle
from ..base import CameraDriver, CameraFrame, CameraIntrinsics, Diagnostic, DriverError

SIM_IMAGE_TOPIC = "/sim/camera/color/image_raw"
SIM_DEPTH_TOPIC = "/sim/camera/depth/image_raw"
SIM_INFO_TOPIC = "/sim/camera/camera_info"


class SimCamera(CameraDriver):
    def __init__(self, handle: NodeHandle) -> None:
        self._handle = handle
        self._frame: CameraFrame | None = None
        self._depth = None
        self._info: CameraInfo | None = None
        self._sequence = 0
        self._last_stamp = -1.0

    def _on_configure(self) -> None:
        self._handle.create_subscription(Image, SIM_IMAGE_TOPIC, self._on_image, SENSOR_QOS)
        self._handle.create_subscription(Image, SIM_DEPTH_TOPIC, self._on_depth, SENSOR_QOS)
        self._handle.create_subscription(CameraInfo, SIM_INFO_TOPIC, self._on_info, LATCHED_QOS)

    def _on_image(self, msg: Image) -> None:
        self._sequence += 1
        depth = self._depth if self._depth is not None and self._depth[1] == msg.header.stamp.to_sec() else None
        self._frame = CameraFrame(stamp=msg.header.stamp.to_sec(), color=image_to_array(msg),
                                  depth=None if depth is None else depth[0], frame_id=msg.header.frame_id,
                                  sequence=self._sequence)

    def _on_depth(self, msg: Image) -> None:
        self._depth = (image_to_array(msg), msg.header.stamp.to_sec())
        if self._frame is not None and self._frame.stamp == self._depth[1]:
            self._frame.depth = self._depth[0]

    def _on_info(self, msg: CameraInfo) -> None:
        self._info = msg

    def _read_frame(self) -> CameraFrame | None:
        frame = self._frame
        if frame is None or frame.stamp == self._last_stamp:
            return None
        self._last_stamp = frame.stamp
        return frame

    def _color_intrinsics(self) -> CameraIntrinsics:
        if self._info is None:
            raise DriverError("virtual rig has not published camera info yet")
        k = self._info.k
        return CameraIntrinsics(width=self._info.width, height=self._info.height, fx=k[0], fy=k[4], cx=k[2], cy=k[5])

    def diagnostics(self) -> list[Diagnostic]:
        if self._frame is None:
            return [Diagnostic(Diagnostic.STALE, "sim camera", "no frame from the virtual rig yet")]
        return []
