"""Webcam / video-file hand tracking settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from ..base import DeviceConfig

#: where `--model` is looked for when not given (MediaPipe's pip package ships no model file)
MODEL_ENV = "BEING_H0_HAND_LANDMARKER"
MODEL_URL = ("https://storage.googleapis.com/mediapipe-models/hand_landmarker/hand_landmarker/float16/latest/"
             "hand_landmarker.task")

HELP = f"""webcam / video teleop (MediaPipe hand landmarks):
  hold one hand in view of the camera, palm toward it; your wrist drives the robot's wrist
  (relative to where it was when the clutch closed), your fingers drive the Inspire hand.
  space      clutch (webcam in a terminal): take over / release
             (video files and non-interactive runs: the clutch is on while a hand is detected)
  q or Esc   quit
  needs: pip install 'being-h0-runtime[teleop-webcam]'; then either
    mediapipe<=0.10.21, whose wheel carries legacy hand models (--hand-detector solutions, the default
    when no model is given: works offline), or the hand landmarker model
    {MODEL_URL}
    passed with --model FILE or ${MODEL_ENV} (--hand-detector tasks)."""


class WebcamConfig(DeviceConfig):
    rate_hz: float = Field(30.0, gt=0, le=240)
    #: hand_landmarker.task (MediaPipe Tasks); default: $BEING_H0_HAND_LANDMARKER
    model_path: Path | None = None
    #: tasks: MediaPipe Tasks with model_path; solutions: legacy mp.solutions.hands with the models inside the
    #: mediapipe wheel (<= 0.10.21, no download); auto: tasks when a model is given, else solutions if shipped
    hand_detector: Literal["auto", "tasks", "solutions"] = "auto"
    camera_index: int = Field(0, ge=0)
    width: int = Field(640, ge=64)
    height: int = Field(480, ge=48)
    #: horizontal field of view of the camera, for the depth estimate from the hand's apparent size
    hfov_deg: float = Field(60.0, gt=10, lt=170)
    #: key: space toggles the clutch; visible: clutch on while a hand is detected
    clutch: Literal["key", "visible"] = "key"
    min_detection_confidence: float = Field(0.5, ge=0, le=1)
    #: rotation (row-major 3x3) from the camera frame (x right, y down, z out of the lens) to the operator
    #: frame (x forward = toward the camera, y = operator's left, z up); default: camera facing the operator
    camera_to_operator: tuple[float, ...] = (0, 0, -1, 1, 0, 0, 0, -1, 0)

    @field_validator("camera_to_operator")
    @classmethod
    def _nine(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(v) != 9:
            raise ValueError(f"camera_to_operator: 9 numbers (row-major 3x3), got {len(v)}")
        return v

    def resolved_model(self) -> Path | None:
        if self.model_path is not None:
            return self.model_path
        env = os.environ.get(MODEL_ENV)
        return Path(env) if env else None
