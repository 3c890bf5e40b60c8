"""The detector boundary: an RGB frame in, 21 hand landmarks out.

`HandObservation` is what the webcam device needs from any hand tracker:
world landmarks (metres, hand-centred, camera-aligned axes) for the finger
angles and orientation, and image landmarks (normalised 0..1) for where the
wrist is.  Two real ones, both MediaPipe:

- `MediaPipeHandDetector`: the Tasks HandLandmarker (VIDEO mode) with a
  `hand_landmarker.task` model, a separate download;
- `MediaPipeSolutionsHandDetector`: the legacy `mp.solutions.hands` graph,
  whose palm-detection and landmark models are inside the mediapipe wheel up
  to 0.10.21 (0.10.30 dropped them), so it works with no download.

`write_task_bundle` packs those same bundled models into a `.task` file the
Tasks API loads (it is a zip of hand_detector.tflite +
hand_landmarks_detector.tflite).  `make_hand_detector` picks one from the
config.  Anything with the same `detect` can stand in (the tests' injected
detectors).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..base import DeviceError
from .config import MODEL_ENV, MODEL_URL, WebcamConfig

_INSTALL = ("pip install 'being-h0-runtime[teleop-webcam]' (it brings opencv-contrib-python: install it in its own "
            "virtual environment if your environment pins opencv-python-headless)")
#: the legacy hand models inside the mediapipe wheel (<= 0.10.21), relative to the package
LEGACY_MODELS = {"hand_detector.tflite": "modules/palm_detection/palm_detection_full.tflite",
                 "hand_landmarks_detector.tflite": "modules/hand_landmark/hand_landmark_full.tflite"}


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
            raise DeviceError(f"webcam/video devices need MediaPipe ({err}): {_INSTALL}") from None
        if model_path is None:
            raise DeviceError(f"the MediaPipe Tasks hand detector needs the hand landmarker model: download "
                              f"{MODEL_URL} and pass --model FILE or set ${MODEL_ENV} (or use --hand-detector "
                              "solutions with mediapipe<=0.10.21, whose wheel carries its own hand models)")
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


def _import_mediapipe():
    try:
        import mediapipe as mp  # type: ignore[import-not-found]
    except ImportError as err:
        raise DeviceError(f"webcam/video devices need MediaPipe ({err}): {_INSTALL}") from None
    return mp


def legacy_hand_models() -> dict[str, Path] | None:
    """Task-bundle name -> bundled tflite file, or None when this mediapipe ships no legacy hand models."""
    try:
        import mediapipe as mp  # type: ignore[import-not-found]
    except ImportError:
        return None
    root = Path(mp.__file__).parent
    files = {name: root / rel for name, rel in LEGACY_MODELS.items()}
    return files if all(f.is_file() for f in files.values()) else None


def _no_legacy_models_error(mp) -> DeviceError:
    return DeviceError(f"mediapipe {getattr(mp, '__version__', '?')} ships no hand models (0.10.30 dropped the "
                       f"legacy ones): pip install 'mediapipe<=0.10.21', or download {MODEL_URL} and pass "
                       f"--model FILE (or set ${MODEL_ENV})")


class MediaPipeSolutionsHandDetector:
    """The legacy `mp.solutions.hands` tracker: palm detection, then landmarks tracked from frame to frame."""

    def __init__(self, min_confidence: float = 0.5, model_complexity: int = 1) -> None:
        mp = _import_mediapipe()
        hands = getattr(getattr(mp, "solutions", None), "hands", None)
        if hands is None or legacy_hand_models() is None:
            raise _no_legacy_models_error(mp)
        # static_image_mode=False: detect once, then track the landmarks' box (as a webcam stream wants)
        self._hands = hands.Hands(static_image_mode=False, max_num_hands=1, model_complexity=model_complexity,
                                  min_detection_confidence=min_confidence, min_tracking_confidence=min_confidence)

    def detect(self, rgb: np.ndarray, t_ms: int) -> HandObservation | None:
        # the graph stamps frames itself (one tick per call), so t_ms is not needed
        res = self._hands.process(np.ascontiguousarray(rgb))
        if not res.multi_hand_world_landmarks:
            return None
        world = np.array([[p.x, p.y, p.z] for p in res.multi_hand_world_landmarks[0].landmark])
        img = np.array([[p.x, p.y, p.z] for p in res.multi_hand_landmarks[0].landmark])
        score = float(res.multi_handedness[0].classification[0].score) if res.multi_handedness else 1.0
        return HandObservation(world, img, score)

    def close(self) -> None:
        self._hands.close()


def write_task_bundle(out: Path) -> Path:
    """Pack the wheel's legacy hand models into a hand_landmarker.task the Tasks API loads (write, then rename)."""
    import zipfile

    mp = _import_mediapipe()
    files = legacy_hand_models()
    if files is None:
        raise _no_legacy_models_error(mp)
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:  # stored: MediaPipe maps the models in place
        for name, src in files.items():
            z.write(src, name)
    tmp.replace(out)
    return out


def make_hand_detector(config: WebcamConfig) -> HandDetector:
    """tasks: the given hand_landmarker.task; solutions: the wheel's legacy models; auto: tasks if a model is given."""
    model = config.resolved_model()
    kind = config.hand_detector
    if kind == "auto":
        kind = "tasks" if model is not None or legacy_hand_models() is None else "solutions"
    if kind == "solutions":
        return MediaPipeSolutionsHandDetector(config.min_detection_confidence)
    return MediaPipeHandDetector(model, config.min_detection_confidence)
