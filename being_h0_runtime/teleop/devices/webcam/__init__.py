"""Webcam and video files: MediaPipe hand landmarks drive the wrist and the fingers."""

from .config import HELP, WebcamConfig
from .detector import HandDetector, HandObservation, MediaPipeHandDetector
from .device import CameraDevice, wrist_pose

__all__ = ["HELP", "CameraDevice", "HandDetector", "HandObservation", "MediaPipeHandDetector", "WebcamConfig",
           "wrist_pose"]
