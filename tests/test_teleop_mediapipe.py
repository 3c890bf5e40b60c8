"""The webcam/video device with a real MediaPipe hand tracker, on a rendered hand whose pose is known.

Runs only where mediapipe imports and its wheel carries the legacy hand models
(mediapipe <= 0.10.21): the project's own environment pins
opencv-python-headless, which mediapipe's opencv-contrib-python clashes with,
so these run in a separate one (README, "Teleoperation and demonstrations").

tests/fixtures/rendered_hand/hand.avi is made by scripts/make_hand_video.py (a
MuJoCo hand, fingers open -> fist -> open while the wrist sweeps sideways);
hand.json beside it holds the closure and wrist position of every frame.
Both routes that work without a download are checked: the legacy
`mp.solutions.hands` graph, and the Tasks HandLandmarker loading a .task
bundle packed from the same bundled models.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

mp = pytest.importorskip("mediapipe", reason="needs mediapipe (the teleop-webcam extra, in its own environment: "
                                             "it brings opencv-contrib-python)")

from being_h0_runtime.teleop.devices import make_device  # noqa: E402
from being_h0_runtime.teleop.devices.webcam import (  # noqa: E402
    CameraDevice,
    HandObservation,
    MediaPipeSolutionsHandDetector,
    WebcamConfig,
    legacy_hand_models,
    write_task_bundle,
)
from being_h0_runtime.teleop.retarget import HandCalibration, HandRetargeter  # noqa: E402

if legacy_hand_models() is None:
    pytest.skip(f"mediapipe {mp.__version__} ships no legacy hand models (0.10.30 dropped them)",
                allow_module_level=True)

VIDEO = Path(__file__).parent / "fixtures" / "rendered_hand" / "hand.avi"
TRUTH = json.loads(VIDEO.with_suffix(".json").read_text())


class TimedDetector:
    """The real detector, timed per frame."""

    def __init__(self, inner) -> None:
        self.inner, self.seconds = inner, []

    def detect(self, rgb: np.ndarray, t_ms: int) -> HandObservation | None:
        t0 = time.perf_counter()
        obs = self.inner.detect(rgb, t_ms)
        self.seconds.append(time.perf_counter() - t0)
        return obs

    def close(self) -> None:
        self.inner.close()


@dataclass
class Track:
    curl: np.ndarray  # mean Inspire closure of the four fingers per frame (nan: no hand)
    wrist_image: np.ndarray  # (n, 2) normalised
    wrist_op: np.ndarray  # (n, 3) operator frame, metres
    latency_ms: np.ndarray


def run_video(device: CameraDevice) -> Track:
    timed = TimedDetector(device.detector)
    device.detector = timed
    retarget = HandRetargeter(HandCalibration.nominal())
    curl, img, pos = [], [], []
    for k in range(len(TRUTH["closure"])):
        frame = device.read(k / TRUTH["fps"])
        if frame is None:
            curl.append(np.nan), img.append([np.nan] * 2), pos.append([np.nan] * 3)
            continue
        curl.append(retarget(frame.keypoints)[:4].mean())
        img.append(device.last_observation.image[0, :2])
        pos.append(frame.wrist_pos)
    assert device.read(0.0) is None and device.quit_requested  # the video ended where the truth does
    device.close()
    return Track(np.array(curl), np.array(img), np.array(pos), np.array(timed.seconds) * 1e3)


def check_track(track: Track, label: str) -> None:
    truth = np.array(TRUTH["closure"])
    seen = np.isfinite(track.curl)
    corr = np.corrcoef(track.curl[seen], truth[seen])[0, 1]
    open_, fist = track.curl[seen & (truth < 0.05)].mean(), track.curl[seen & (truth > 0.95)].mean()
    # wrist: image track up to a constant offset (MediaPipe's wrist point sits a little above the rendered
    # forearm's end), and the operator-frame track's sideways component (camera facing the operator: image
    # right = operator's +y) against the rendered one
    px = (track.wrist_image[seen] - np.array(TRUTH["wrist_image"])[seen]) * [TRUTH["width"], TRUTH["height"]]
    px_rms = np.sqrt(((px - px.mean(0)) ** 2).sum(1).mean())
    side = np.array(TRUTH["wrist_cam_m"])[seen, 0]
    dy = track.wrist_op[seen, 1] - track.wrist_op[seen, 1].mean()
    side_rms = np.sqrt(((dy - (side - side.mean())) ** 2).mean())
    p50, p99 = np.percentile(track.latency_ms, [50, 99])
    print(f"\n{label}: detected {seen.sum()}/{seen.size} frames, finger curl vs rendered closure r={corr:.3f} "
          f"(open {open_:.2f}, fist {fist:.2f}), wrist image rms {px_rms:.1f} px after a "
          f"{np.round(px.mean(0), 1).tolist()} px offset, sideways wrist rms {side_rms * 100:.1f} cm "
          f"(sweep {np.ptp(side) * 100:.0f} cm), detector {p50:.1f} ms p50 / {p99:.1f} ms p99")
    assert seen.mean() >= 0.9
    assert corr > 0.85 and fist - open_ > 0.4  # the hand closes when the fingers flex, and opens again
    assert track.curl[seen][-5:].mean() < open_ + 0.15
    assert px_rms < 8.0  # pixels of a 480-pixel-wide frame
    assert side_rms < 0.03 and np.corrcoef(dy, side)[0, 1] > 0.9


def test_legacy_solutions_detector_tracks_the_rendered_hand() -> None:
    """No model given: `auto` picks the wheel's legacy models, via the device spec as the CLI opens it."""
    device = make_device(f"video:{VIDEO}")
    assert isinstance(device, CameraDevice) and isinstance(device.detector, MediaPipeSolutionsHandDetector)
    check_track(run_video(device), "mp.solutions.hands")


def test_task_bundle_of_the_bundled_models_loads_in_the_tasks_api(tmp_path: Path) -> None:
    bundle = write_task_bundle(tmp_path / "hand_landmarker.task")
    assert not list(tmp_path.glob("*.part"))
    device = CameraDevice(VIDEO, WebcamConfig(clutch="visible", hand_detector="tasks", model_path=bundle))
    check_track(run_video(device), "Tasks HandLandmarker + bundled models")


def test_teleop_session_closes_the_inspire_hand_from_the_rendered_video() -> None:
    """`being-h0 teleop --device video:FILE` end to end: the virtual rig's Inspire hand closes and opens again."""
    pytest.importorskip("mujoco", reason="the virtual rig needs mujoco (the sim extra)")
    from being_h0_runtime.msgs import JointState
    from being_h0_runtime.teleop_session import TeleopSession

    device = make_device(f"video:{VIDEO}")
    with TeleopSession(device, realtime=False) as s:
        probe = s.ctx.create_node("probe")
        hand: list[tuple[float, np.ndarray]] = []
        probe.create_subscription(JointState, "/hand/command", lambda m: hand.append((s.ctx.now(), np.array(m.position))))
        res = s.run(max_seconds=20)
    assert res.quit_by_operator  # the video ended
    assert res.frames_sent >= 0.9 * len(TRUTH["closure"])
    names = list(s.nodes["hand"].joint_names)
    i = names.index("index")
    lo, hi = s.nodes["hand"].supervisor.limits.pos_min[i], s.nodes["hand"].supervisor.limits.pos_max[i]
    q = np.array([(p[i] - lo) / (hi - lo) for _, p in hand])
    t = np.array([t for t, _ in hand])
    # the rendered fist is held from 45% to 60% of the clip; the hand is open at the start and the end
    fist = (t > t[0] + 0.47 * (t[-1] - t[0])) & (t < t[0] + 0.6 * (t[-1] - t[0]))
    print(f"\nindex command (0 open .. 1 closed, from the joint range): start {q[:5].mean():.2f}, "
          f"fist {q[fist].mean():.2f}, end {q[-5:].mean():.2f}")
    assert abs(q[fist].mean() - q[:5].mean()) > 0.4
    assert abs(q[-5:].mean() - q[:5].mean()) < 0.2


def test_cli_teleop_runs_the_rendered_video(capsys) -> None:
    """The README's offline line: `being-h0 teleop --device video:FILE` with no model, to the end of the video."""
    pytest.importorskip("mujoco", reason="the virtual rig needs mujoco (the sim extra)")
    from being_h0_runtime.cli import main

    rc = main(["teleop", "--device", f"video:{VIDEO}", "--as-fast-as-possible", "--max-seconds", "20"])
    out = capsys.readouterr().out
    assert rc == 0, out[-2000:]
    assert "hand seen" in out and f"{len(TRUTH['closure'])} device frames" in out, out[-2000:]
