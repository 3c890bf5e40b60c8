"""The detector boundary: an RGB frame in, 21 hand landmarks out.

`HandObservation` is what the webcam device needs from any hand tracker:
world landmarks (metres, hand-centred, camera-aligned axes) for the finger
angles and orientation, and image landmarks (normalised 0..1) for where the
wrist is.  `MediaPipeHandDetector` is the real one (MediaPipe Tasks
HandLandmarker in VIDEO mode); anything with the same `detect` can stand in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..base import DeviceError
from .config import MODEL_ENV, MODEL_URL


@dataclass
class HandObservation:
    world: np.ndarray  # (21, 3) metres, MediaPipe order
    image: np.ndarray  # (21, 3) x, y normalised to the image (0..1), z relative depth
    score: float = 1.0


class HandDetector(Protocol):
    def detect(self, rgb: np.ndarray, t_ms: int) -> HandObservation | None: ...

    def close(self) -> None: ...


class MediaPipeHandDetector:
    def __init__(self, model_path: Path | None, min_confidence: float = 0.5) -> None:
        try:
            import mediapipe as mp  # type: ignore[import-not-found]
            from mediapipe.tasks.python import vision  # type: ignore[import-not-found]
            from mediapipe.tasks.python.core.base_options import BaseOptions  # type: ignore[import-not-found]
        except ImportError as err:
            raise DeviceError(f"webcam/video devices need MediaPipe ({err}): pip install "
                              "'being-h0-runtime[teleop-webcam]' (it brings opencv-contrib-python: install it in "
                              "its own virtual environment if your environment pins opencv-python-headless)") from None
        if model_path is None:
            raise DeviceError(f"webcam/video devices need the MediaPipe hand landmarker model (the pip package "
                              f"ships none): download {MODEL_URL} and pass --model FILE or set ${MODEL_ENV}")
        if not Path(model_path).is_file():
            raise DeviceError(f"{model_path}: hand landmarker model not found (expected hand_landmarker.task, "
                              f"from {MODEL_URL})")
        self._mp = mp
        opts = vision.HandLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(model_path)),
                                            running_mode=vision.RunningMode.VIDEO, num_hands=1,
                                            min_hand_detection_confidence=min_confidence,
                                            min_hand_presence_confidence=min_confidence)
        try:
            self._landmarker = vision.HandLandmarker.create_from_options(opts)
        except (RuntimeError, ValueError, OSError) as err:
            raise DeviceError(f"{model_path}: MediaPipe cannot load this hand landmarker model: {err}") from None
        self._last_ms = -1

    def detect(self, rgb: np.ndarray, t_ms: int) -> HandObservation | None:
        t_ms = max(int(t_ms), self._last_ms + 1)  # VIDEO mode requires strictly increasing timestamps
        self._last_ms = t_ms
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        res = self._landmarker.detect_for_video(image, t_ms)
        if not res.hand_world_landmarks:
            return None
        world = np.array([[p.x, p.y, p.z] for p in res.hand_world_landmarks[0]])
        img = np.array([[p.x, p.y, p.z] for p in res.hand_landmarks[0]])
        score = float(res.handedness[0][0].score) if res.handedness and res.handedness[0] else 1.0
        return HandObservation(world, img, score)

    def close(self) -> None:
        self._landmarker.close()
