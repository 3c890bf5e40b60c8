"""Webcam and video-file devices: frames -> hand landmarks -> teleop frames.

Wrist position: the wrist's image position plus a depth from the hand's
apparent size (pinhole: depth = f * palm length in metres / palm length in
the image), in the camera frame, then rotated into the operator frame.
Wrist orientation: the palm frame (handmodel.palm_frame) of the world
landmarks.  Finger keypoints: the world landmarks as they are (the finger
features are angles, independent of frame and hand size).  All of it then
goes through the same retargeting as a UDP tracker (calibration, One-Euro,
clutch, IK) and the same safety supervisor.

A lost hand sends nothing (the teleop node releases after its stale
timeout); with clutch="visible" it also opens the clutch, so re-appearing
re-anchors instead of jumping.
"""

from __future__ import annotations

import math
import os
import select
import sys
import termios
import tty
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ...handmodel import palm_frame
from ...schema import TeleopFrame
from ..base import DeviceError, TeleopDevice
from .config import WebcamConfig
from .detector import HandDetector, HandObservation, make_hand_detector


def wrist_pose(obs: HandObservation, hfov_deg: float, R_cam_to_op: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position m, quaternion xyzw) of the wrist in the operator frame."""
    f = 0.5 / math.tan(math.radians(hfov_deg) / 2)  # focal length in image widths
    palm_m = float(np.linalg.norm(obs.world[9] - obs.world[0]))
    palm_img = float(np.linalg.norm(obs.image[9, :2] - obs.image[0, :2]))
    depth = f * palm_m / max(palm_img, 1e-3)
    x, y = obs.image[0, :2]
    p_cam = np.array([(x - 0.5) * depth / f, (y - 0.5) * depth / f, depth])
    R = R_cam_to_op @ palm_frame(obs.world)
    return R_cam_to_op @ p_cam, Rotation.from_matrix(R).as_quat(canonical=True)


class CameraDevice(TeleopDevice):
    """A webcam (`source` an int index) or a video file (`source` a path) seen by a hand detector."""

    def __init__(self, source: int | Path, config: WebcamConfig | None = None, detector: HandDetector | None = None,
                 key_fd: int | None = None) -> None:
        super().__init__()
        import cv2

        self.config = config or WebcamConfig()
        self.is_file = not isinstance(source, int)
        self.name = f"video:{source}" if self.is_file else f"webcam:{source}"
        if self.is_file and not Path(source).is_file():
            raise DeviceError(f"{source}: video file not found")
        self.detector = detector or make_hand_detector(self.config)
        self.cap = cv2.VideoCapture(str(source) if self.is_file else int(source))
        if not self.cap.isOpened():
            raise DeviceError(f"{self.name}: OpenCV cannot open it" +
                              ("" if self.is_file else " (is a camera connected, and may this user open /dev/video*?)"))
        if not self.is_file:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.width)
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.height)
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0) or self.config.rate_hz
        self._cv2 = cv2
        self.R = np.asarray(self.config.camera_to_operator, dtype=float).reshape(3, 3)
        # the clutch key comes from a terminal; a video file or a run without one uses visibility
        self.key_fd = key_fd
        self._saved = None
        if self.config.clutch == "key" and key_fd is None and sys.stdin.isatty():
            self.key_fd = sys.stdin.fileno()
        if self.key_fd is not None and os.isatty(self.key_fd):
            self._saved = termios.tcgetattr(self.key_fd)
            tty.setcbreak(self.key_fd)
        self.clutch_mode = "key" if self.config.clutch == "key" and self.key_fd is not None else "visible"
        self._key_clutch = False
        self.visible = False
        self.frames_read = 0
        self.detections = 0
        self.last_observation: HandObservation | None = None

    @property
    def clutch(self) -> bool:
        return self._key_clutch if self.clutch_mode == "key" else self.visible

    def _keys(self) -> None:
        if self.key_fd is None:
            return
        while select.select([self.key_fd], [], [], 0)[0]:
            data = os.read(self.key_fd, 1024)
            if not data:
                return
            for ch in data.decode(errors="ignore"):
                if ch == " ":
                    self._key_clutch = not self._key_clutch
                elif ch in ("q", "\x1b"):
                    self.quit_requested = True

    def read(self, now: float) -> TeleopFrame | None:
        self._keys()
        ok, bgr = self.cap.read()
        if not ok:
            if self.is_file:
                self.quit_requested = True  # the video ended
            self.visible = False
            return None
        self.frames_read += 1
        rgb = self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)
        t_ms = int(self.cap.get(self._cv2.CAP_PROP_POS_MSEC)) if self.is_file else int(now * 1e3)
        obs = self.detector.detect(rgb, t_ms)
        self.last_observation = obs
        self.visible = obs is not None
        if obs is None:
            return None
        self.detections += 1
        pos, quat = wrist_pose(obs, self.config.hfov_deg, self.R)
        scaled = pos * self.config.scale  # the node's own scale stays 1: the device owns the operator's scale
        return TeleopFrame(float(now), obs.world.astype(float), scaled, quat, self.clutch, self._next_seq())

    def status(self) -> str:
        return f"{super().status()}  hand {'seen' if self.visible else 'NOT SEEN'}  frames {self.frames_read}"

    def close(self) -> None:
        self.cap.release()
        self.detector.close()
        if self._saved is not None and self.key_fd is not None:
            try:
                termios.tcsetattr(self.key_fd, termios.TCSADRAIN, self._saved)
            except termios.error:
                pass
