"""Webcam and video files: MediaPipe hand landmarks drive the wrist and the fingers."""

from .config import HELP, WebcamConfig
from .detector import (
    HandDetector,
    HandObservation,
    MediaPipeHandDetector,
    MediaPipeSolutionsHandDetector,
    legacy_hand_models,
    make_hand_detector,
    write_task_bundle,
)
from .device import CameraDevice, wrist_pose

__all__ = ["HELP", "CameraDevice", "HandDetector", "HandObservation", "MediaPipeHandDetector",
           "MediaPipeSolutionsHandDetector", "WebcamConfig", "legacy_hand_models", "make_hand_detector",
           "wrist_pose", "write_task_bundle"]
