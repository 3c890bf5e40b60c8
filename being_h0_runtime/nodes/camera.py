"""Camera node: a CameraDriver (RealSense, .db3 playback or the virtual rig)
published as sensor_msgs/Image + CameraInfo (+ aligned depth)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from ..config import StrictModel
from ..drivers.base import CameraDriver, Diagnostic, DriverError
from ..drivers.options import CAMERA_OPTIONS, options_model, validate_options
from ..msgs import CameraInfo, Image
from ..msgs.convert import camera_info, image_from_array
from ..transport.api import LATCHED_QOS, SENSOR_PUB_QOS, NodeHandle
from .base import RuntimeNode


class CameraParams(StrictModel):
    backend: Literal["sim", "realsense"] = "sim"
    #: backend options, validated by the backend's model (RealSenseConfig for realsense: serial, width, height,
    #: fps, playback_file, ...; none for sim)
    options: Any = Field(default_factory=dict)
    poll_rate_hz: float = Field(60.0, gt=0)
    namespace: str = "/camera"
    publish_depth: bool = True
    #: no new frame for this long => STALE diagnostic (the inference node refuses stale frames itself)
    stale_after_s: float = Field(0.5, gt=0)

    @field_validator("options")
    @classmethod
    def _typed_options(cls, value: Any, info: ValidationInfo) -> Any:
        return validate_options(CAMERA_OPTIONS, value, info)

    @classmethod
    def submodel_for(cls, field: str, data: Any) -> Any:
        if field == "options" and isinstance(data, dict):
            return options_model(CAMERA_OPTIONS, data.get("backend", "sim"))
        return None


def make_camera(params: CameraParams, handle: NodeHandle) -> CameraDriver:
    if params.backend == "sim":
        from ..drivers.camera.sim import SimCamera

        return SimCamera(handle)
    from ..drivers.camera.realsense import RealSenseCamera

    return RealSenseCamera(params.options)  # a RealSenseConfig, validated with the profile


class CameraNode(RuntimeNode):
    Params = CameraParams

    def __init__(self, handle: NodeHandle, params: CameraParams | dict[str, Any],
                 driver: CameraDriver | None = None) -> None:
        """`driver`: an already built driver (tests, benches); default: `make_camera` at configure."""
        super().__init__(handle, params)
        self.p = self.params
        self.driver = driver
        self.frames = 0
        self._intrinsics: Any = None  # the driver's intrinsics, once it has them

    def on_configure(self) -> None:
        handle = self.handle
        ns = self.p.namespace.rstrip("/")
        self.image_pub = handle.create_publisher(Image, f"{ns}/color/image_raw", SENSOR_PUB_QOS)
        self.depth_pub = handle.create_publisher(Image, f"{ns}/aligned_depth_to_color/image_raw", SENSOR_PUB_QOS)
        self.info_pub = handle.create_publisher(CameraInfo, f"{ns}/color/camera_info", LATCHED_QOS)
        if self.driver is None:
            self.driver = make_camera(self.p, handle)
        self.driver.configure()

    def on_activate(self) -> None:
        self.driver.activate()
        self.last_frame_time = self.handle.now()
        self.create_timer(1.0 / self.p.poll_rate_hz, self.tick)

    def on_deactivate(self) -> None:
        self.driver.deactivate()

    def on_shutdown(self) -> None:
        if self.driver is not None:
            self.driver.close()

    def health(self) -> list[Diagnostic]:
        return [Diagnostic(Diagnostic.OK, "frames", f"{self.frames} frames", {"frames": self.frames})]

    def tick(self) -> None:
        now = self.handle.now()
        frame = self.driver.read()
        if frame is None:
            if now - self.last_frame_time > self.p.stale_after_s:
                diags = self.driver.diagnostics() or [
                    Diagnostic(Diagnostic.STALE, "frames", f"no frame for {now - self.last_frame_time:.2f} s")]
                self.publish_diagnostics(diags)
                self.last_frame_time = now  # report once per stale period, not every poll
            return
        self.frames += 1
        self.last_frame_time = now
        self.image_pub.publish(image_from_array(frame.color, "rgb8", frame.stamp, frame.frame_id))
        if self.p.publish_depth and frame.depth is not None:
            self.depth_pub.publish(image_from_array(frame.depth, "16UC1", frame.stamp, frame.frame_id))
        # CameraInfo with every frame, stamped like it, as realsense-ros publishes it: ROS 2 camera consumers
        # (image_transport's CameraSubscriber, rviz, image_proc) pair image and info by stamp, and a
        # volatile subscriber would never see a one-off latched message
        if self._intrinsics is None:
            try:
                self._intrinsics = self.driver.intrinsics()
            except DriverError:
                return
        k = self._intrinsics
        self.info_pub.publish(camera_info(k.width, k.height, k.fx, k.fy, k.cx, k.cy, frame.stamp, frame.frame_id,
                                          k.distortion, k.distortion_model))
