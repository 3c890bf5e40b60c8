"""A synthetic rig for tests, demos and benchmarks: publishes the topic conventions with known values
(camera frames whose grey level encodes the frame index, a smooth joint trajectory, commands = state 20 ms ahead)."""

from __future__ import annotations

import numpy as np

from being_h0_runtime.msgs import Bool, TaskCommand, TaskStatus
from being_h0_runtime.msgs import convert as C
from being_h0_runtime.msgs.sensor import CameraInfo, Image, JointState
from being_h0_runtime.rig import ARM_JOINT_NAMES, HAND_DOF_NAMES
from being_h0_runtime.transport.api import LATCHED_QOS, SENSOR_PUB_QOS

ARM = list(ARM_JOINT_NAMES)
HAND = list(HAND_DOF_NAMES)


def proprio_at(t: float) -> np.ndarray:
    """A smooth known trajectory so exports can be checked against ground truth."""
    arm = 0.3 * np.sin(t + np.arange(7) * 0.5)
    hand = 0.5 + 0.4 * np.sin(0.5 * t + np.arange(6))
    return np.concatenate([arm, hand])


def frame_code(index: int) -> int:
    """Grey level encoding a frame's index (steps of 8 survive JPEG)."""
    return (index * 8) % 256


def frame_index(grey: int) -> int:
    return int(round(grey / 8))


class SyntheticRig:
    """Publishes camera (rgb8, frame brightness encodes time), joint states and commands."""

    def __init__(self, ctx, camera_hz: float = 10.0, state_hz: float = 50.0, w: int = 32, h: int = 24) -> None:
        n = ctx.create_node("synthetic_rig")
        self.n, self.w, self.h = n, w, h
        self.img = n.create_publisher(Image, "/camera/color/image_raw", SENSOR_PUB_QOS)
        self.info = n.create_publisher(CameraInfo, "/camera/color/camera_info", LATCHED_QOS)
        self.js = n.create_publisher(JointState, "/joint_states")
        self.arm = n.create_publisher(JointState, "/arm/command")
        self.hand = n.create_publisher(JointState, "/hand/command")
        self.status = n.create_publisher(TaskStatus, "/task/status", LATCHED_QOS)
        self.cmd = n.create_publisher(TaskCommand, "/task/command")
        self.intervention = n.create_publisher(Bool, "/teleop/intervention", LATCHED_QOS)
        self.info.publish(C.camera_info(w, h, 30, 30, w / 2, h / 2))
        self.frames = 0
        n.create_timer(1.0 / camera_hz, self._camera)
        n.create_timer(1.0 / state_hz, self._state)

    def _camera(self) -> None:
        t = self.n.now()
        arr = np.zeros((self.h, self.w, 3), np.uint8)
        arr[...] = frame_code(self.frames)
        arr[: self.h // 2, : self.w // 2, 1] = 200
        self.img.publish(C.image_from_array(arr, "rgb8", stamp=t, frame_id="camera"))
        self.frames += 1

    def _state(self) -> None:
        t = self.n.now()
        q = proprio_at(t)
        self.js.publish(C.joint_state(ARM + HAND, q, stamp=t))
        target = proprio_at(t + 0.02)
        self.arm.publish(C.joint_state(ARM, target[:7], stamp=t))
        self.hand.publish(C.joint_state(HAND, target[7:], stamp=t))


def record_episode(ctx, rec, seconds: float, task: str = "pick", instruction: str = "pick up the toy",
                   success: bool = True) -> None:
    rec.start(task, instruction, operator="alice")
    ctx.run_for(seconds)
    rec.mark(success)
    rec.end(keep=True)
