"""Teleop devices: keyboard through a real pty, SpaceMouse HID report bytes (documented layout), video through OpenCV.

The video test renders its own video with OpenCV.  MediaPipe cannot find a
hand in anything we can render here, and its pip package ships neither the
hand model nor test images, so the landmarks are injected at the detector
boundary (`HandDetector.detect`): the injected detector reads each decoded
frame's pixels (brightness = how closed the hand is, red = where the wrist
is) and returns the landmarks of a synthetic hand in that pose.  Everything
from the video decode to the TeleopFrame is the real path.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

from being_h0_runtime.teleop.devices import DeviceError, make_device, parse_spec
from being_h0_runtime.teleop.devices.base import DeviceConfig, JogState
from being_h0_runtime.teleop.devices.keyboard import KeyboardConfig, KeyboardDevice
from being_h0_runtime.teleop.devices.spacemouse import (
    SpaceMouseConfig,
    SpaceMouseDevice,
    SpaceMouseState,
    parse_report,
)
from being_h0_runtime.teleop.devices.webcam import (
    CameraDevice,
    HandObservation,
    WebcamConfig,
)
from being_h0_runtime.teleop.handmodel import FIST_POSE, OPEN_POSE, SyntheticHand
from being_h0_runtime.teleop.retarget import HandCalibration, HandRetargeter


def test_keyboard_keys_from_a_pty_move_the_wrist_and_hand(pty_pair) -> None:
    master, slave = pty_pair
    dev = KeyboardDevice(KeyboardConfig(step_m=0.01, scale=0.5), fd=slave)
    try:
        f0 = dev.read(0.0)
        assert not f0.clutch
        os.write(master, b" wwwa" + b"g" * 4)  # clutch on, 3 forward, 1 left, close the hand fully
        f1 = dev.read(0.02)
        assert f1.clutch and f1.seq > f0.seq
        np.testing.assert_allclose(f1.wrist_pos - f0.wrist_pos, [0.015, 0.005, 0.0], atol=1e-9)  # scale 0.5
        assert dev.jog.closure == 1.0
        # the keypoints are a closed hand: the nominal calibration reads them back as a fist
        closures = HandRetargeter(HandCalibration.nominal())(f1.keypoints)
        assert closures[:4].min() > 0.9
        os.write(master, b"\x1b[A jjq")  # an arrow key is ignored (not Esc); clutch off; yaw; quit
        f2 = dev.read(0.04)
        assert not f2.clutch and dev.quit_requested
        assert abs(f2.wrist_quat[2]) > 0.04  # turned about z
    finally:
        dev.close()
    import termios

    assert termios.tcgetattr(slave)[3] & termios.ICANON  # the terminal's mode is restored


def test_keyboard_refuses_a_non_terminal(tmp_path: Path) -> None:
    with open(tmp_path / "f", "w") as f, pytest.raises(DeviceError, match="not a terminal"):
        KeyboardDevice(fd=f.fileno())


def test_jog_wrist_stays_inside_its_workspace_box() -> None:
    jog = JogState(DeviceConfig(workspace_m=(0.1, 0.1, 0.05)))
    for _ in range(50):
        jog.move(np.array([0.0, 0.0, -0.01]))
    assert jog.pos[2] == pytest.approx(JogState.START[2] - 0.05) and jog.at_limit
    jog.move(np.array([0.01, 0.0, 0.0]))
    assert not jog.at_limit


# -- SpaceMouse: reports as hidapi returns them (report id first), built byte by byte in the documented
# 3Dconnexion layout (no device here to capture from) ---------------------------------------------------------
def _report(rid: int, *vals: int) -> list[int]:
    return list(bytes([rid]) + struct.pack(f"<{len(vals)}h", *vals))


def test_spacemouse_report_parsing() -> None:
    st = SpaceMouseState()
    assert parse_report(_report(1, 350, -100, 20), st) == "translation"
    np.testing.assert_allclose(st.axes[:3], [350, 100, -20])  # y and z flipped: x forward, y left, z up
    assert parse_report(_report(2, 10, -20, 30), st) == "rotation"
    np.testing.assert_allclose(st.axes[3:], [-10, 20, 30])
    assert parse_report(_report(1, 1, 2, 3, 4, 5, 6), st) == "both"  # 13-byte combined report (newer devices)
    np.testing.assert_allclose(st.axes, [1, -2, -3, -4, -5, 6])
    assert parse_report([3, 0b10, 0], st) == "buttons" and st.pressed(1) and not st.pressed(0)
    assert parse_report([0x17, 80], st) == "ignored"
    with pytest.raises(ValueError, match="need 7"):
        parse_report([1, 0, 0], st)


class RecordedHid:
    """Replays HID reports in hidapi's non-blocking `read()` shape (an empty list when none wait)."""

    def __init__(self) -> None:
        self.queue: list[list[int]] = []

    def read(self, size: int) -> list[int]:
        return self.queue.pop(0)[:size] if self.queue else []


def test_spacemouse_device_integrates_velocity_and_toggles_clutch_and_hand() -> None:
    hid = RecordedHid()
    dev = SpaceMouseDevice(SpaceMouseConfig(max_speed_m_s=0.1, deadband=0.1), hid_device=hid)
    f0 = dev.read(0.0)
    hid.queue += [[3, 1], [3, 0], _report(1, 350, 0, 10)]  # left click (clutch on), full forward, z in dead band
    f1 = dev.read(0.0)
    f2 = dev.read(0.1)
    assert not f0.clutch and f1.clutch and f2.clutch
    np.testing.assert_allclose(f2.wrist_pos - f1.wrist_pos, [0.01, 0.0, 0.0], atol=1e-9)  # 0.1 m/s * 0.1 s
    f2b = dev.read(5.0)  # a 4.9 s stall moves at most 0.1 s worth, never a jump
    assert f2b.wrist_pos[0] - f2.wrist_pos[0] == pytest.approx(0.01)
    f2 = f2b
    hid.queue += [[3, 2], [3, 0], _report(1, 0, 0, 0)]  # right click: close the hand; cap released
    f3 = dev.read(5.1)
    assert dev.jog.closure == 1.0
    np.testing.assert_allclose(f3.wrist_pos, f2.wrist_pos)
    hid.queue += [[1, 0]]  # truncated: counted, not fatal
    dev.read(5.2)
    assert dev.bad_reports == 1


def test_spacemouse_without_hidapi_says_what_to_install() -> None:
    try:
        import hid  # noqa: F401
    except ImportError:
        with pytest.raises(DeviceError, match="hidapi"):
            make_device("spacemouse")
    else:
        pytest.skip("hidapi is installed: the missing-package error cannot be shown")


def test_device_specs() -> None:
    assert parse_spec("video:a.mp4") == ("video", "a.mp4")
    assert parse_spec("webcam") == ("webcam", "")
    for bad, msg in (("mouse", "unknown device"), ("video", "needs a file"), ("webcam:x", "camera number")):
        with pytest.raises(DeviceError, match=msg):
            parse_spec(bad)


# -- video ------------------------------------------------------------------------------------------------
FPS = 20


def write_hand_video(path: Path, closures: np.ndarray, wrist_x: np.ndarray, size: tuple[int, int] = (160, 120)) -> Path:
    """A video whose frames encode a hand pose: gray level = closure, red level = wrist x (image fraction)."""
    import cv2

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, size)
    assert w.isOpened()
    for c, x in zip(closures, wrist_x):
        img = np.full((size[1], size[0], 3), round(c * 200) + 20, np.uint8)
        img[..., 2] = round(x * 255)  # BGR: red
        w.write(img)
    w.release()
    return path


class PixelHandDetector:
    """Stands in for MediaPipe at the detector boundary: the pose comes from the decoded frame's pixels."""

    def __init__(self) -> None:
        self.hand = SyntheticHand()
        self.calls = 0

    def detect(self, rgb: np.ndarray, t_ms: int) -> HandObservation | None:
        self.calls += 1
        gray = float(rgb[..., 1].mean())
        if gray < 10:  # a black frame: no hand
            return None
        c = np.clip((gray - 20) / 200, 0, 1)
        world = self.hand.keypoints(OPEN_POSE + c * (FIST_POSE - OPEN_POSE))
        x = float(rgb[..., 0].mean()) / 255
        image = np.zeros((21, 3))
        image[:, :2] = [x, 0.5]
        image[9, :2] = [x, 0.4]  # palm 0.1 image heights long: constant depth
        return HandObservation(world, image)

    def close(self) -> None:
        pass


def test_video_file_stands_in_for_the_webcam(tmp_path: Path) -> None:
    n = 30
    closures = np.r_[np.zeros(10), np.linspace(0, 1, 10), np.ones(10)]
    xs = np.linspace(0.3, 0.7, n)
    video = write_hand_video(tmp_path / "hand.avi", closures, xs)
    black = tmp_path / "black.avi"
    import cv2

    w = cv2.VideoWriter(str(black), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (160, 120))
    for _ in range(3):
        w.write(np.zeros((120, 160, 3), np.uint8))
    w.release()

    det = PixelHandDetector()
    dev = CameraDevice(video, WebcamConfig(clutch="visible", scale=2.0), detector=det)
    assert dev.clutch_mode == "visible" and dev.fps == pytest.approx(FPS)
    frames = [dev.read(k / FPS) for k in range(n)]
    assert dev.read(n / FPS) is None and dev.quit_requested  # the video ended
    dev.close()
    assert all(f is not None and f.clutch for f in frames) and det.calls == n
    retarget = HandRetargeter(HandCalibration.nominal())
    c = np.array([retarget(f.keypoints) for f in frames])
    assert c[:10, :4].max() < 0.1 and c[-10:, :4].min() > 0.9  # the hand closes as the video says
    # wrist moved right in the image = toward the operator's left (+y, camera facing the operator), scaled by 2
    dy = frames[-1].wrist_pos[1] - frames[0].wrist_pos[1]
    assert dy > 0.1
    assert np.ptp([f.wrist_pos[0] for f in frames]) < 1e-6  # constant apparent size: constant depth

    dev = CameraDevice(black, WebcamConfig(clutch="visible"), detector=PixelHandDetector())
    assert dev.read(0.0) is None and not dev.clutch  # no hand: nothing sent, clutch open
    dev.close()


def test_webcam_without_mediapipe_or_model_says_what_to_do(tmp_path: Path) -> None:
    video = write_hand_video(tmp_path / "v.avi", np.zeros(2), np.full(2, 0.5))
    # the Tasks detector without a model (with no MediaPipe: the install line comes first)
    with pytest.raises(DeviceError, match="MediaPipe|hand landmarker model"):
        make_device(f"video:{video}", hand_detector="tasks")
    try:
        import mediapipe  # noqa: F401
    except ImportError:  # no MediaPipe at all: every detector says how to install it
        for kind in ("auto", "solutions"):
            with pytest.raises(DeviceError, match=r"need MediaPipe.*teleop-webcam"):
                make_device(f"video:{video}", hand_detector=kind)
    with pytest.raises(DeviceError, match="not found"):
        make_device(f"video:{tmp_path / 'missing.mp4'}")


def test_mediapipe_detector_errors_where_mediapipe_is_installed(tmp_path: Path) -> None:
    """Runs only where MediaPipe is installed (the `teleop-webcam` extra); the model is never downloaded here."""
    pytest.importorskip("mediapipe")
    from being_h0_runtime.teleop.devices.webcam import MediaPipeHandDetector

    with pytest.raises(DeviceError, match="hand_landmarker.task"):
        MediaPipeHandDetector(None)
    with pytest.raises(DeviceError, match="not found"):
        MediaPipeHandDetector(tmp_path / "missing.task")
    bogus = tmp_path / "bogus.task"
    bogus.write_bytes(b"not a model")
    with pytest.raises(DeviceError, match="cannot load"):
        MediaPipeHandDetector(bogus)
