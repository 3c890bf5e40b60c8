"""Retargeting: calibrated open/fist/pinch -> Inspire values, frame invariance, filter, clutch + IK."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from being_h0_runtime.rig import READY_Q
from being_h0_runtime.teleop.filters import OneEuroFilter
from being_h0_runtime.teleop.handmodel import FIST_POSE, OPEN_POSE, PINCH_POSE, SyntheticHand, hand_features
from being_h0_runtime.teleop.retarget import (
    ArmRetargeter,
    CalibrationError,
    HandCalibration,
    HandRetargeter,
    franka_kinematics,
)
from being_h0_runtime.teleop.schema import AuthError, PacketError, TeleopFrame, decode, encode

# an operator whose hand is smaller than nominal and whose fist is looser
OPERATOR = SyntheticHand(scale=0.85, reach=0.8)


def _calibrate(hand: SyntheticHand) -> HandCalibration:
    return HandCalibration.from_poses("alice", [hand.keypoints(OPEN_POSE)], [hand.keypoints(FIST_POSE)],
                                      [hand.keypoints(PINCH_POSE)])


def test_open_fist_pinch_map_to_calibrated_inspire_values() -> None:
    calib = _calibrate(OPERATOR)
    rt = HandRetargeter(calib)
    np.testing.assert_allclose(rt(OPERATOR.keypoints(OPEN_POSE)), [0, 0, 0, 0, 0, 0], atol=1e-9)
    fist = rt(OPERATOR.keypoints(FIST_POSE))
    np.testing.assert_allclose(fist[:5], 1.0, atol=1e-9)  # fingers and thumb bend fully closed
    pinch = rt(OPERATOR.keypoints(PINCH_POSE))
    assert pinch[5] == pytest.approx(1.0)  # thumb fully opposed
    np.testing.assert_allclose(pinch[:5], PINCH_POSE[:5], atol=1e-6)  # features are linear in closure
    # intermediate closures come back exactly for the calibrated operator
    rng = np.random.default_rng(0)
    for _ in range(20):
        c = rng.uniform(0, 1, 6)
        c[5] = rng.uniform(0, 1)
        got = rt(OPERATOR.keypoints(c))
        np.testing.assert_allclose(got, c * np.r_[1, 1, 1, 1, 1, 1], atol=1e-6)
    # calibration matters: with the nominal hand's calibration this operator's fist stays ~80% closed
    nominal = HandRetargeter(HandCalibration.nominal())(OPERATOR.keypoints(FIST_POSE))
    assert np.all(nominal[:4] < 0.85)


def test_features_do_not_depend_on_frame() -> None:
    kp = SyntheticHand().keypoints([0.3, 0.5, 0.7, 0.2, 0.6, 0.4])
    ang = 0.9
    R = Rotation.from_quat([math.sin(ang / 2) * 0.6, math.sin(ang / 2) * 0.8, 0.0, math.cos(ang / 2)]).as_matrix()
    camera = kp @ R.T + np.array([0.1, -0.3, 0.8])
    np.testing.assert_allclose(hand_features(camera), hand_features(kp), atol=1e-9)


def test_calibration_yaml_roundtrip_and_errors(tmp_path: Path) -> None:
    calib = _calibrate(OPERATOR)
    path = tmp_path / "alice.yaml"
    calib.save(path)
    loaded = HandCalibration.load(path)
    np.testing.assert_allclose(loaded.fist, calib.fist, atol=1e-6)
    assert loaded.operator == "alice"
    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text().replace("fist:", "fizt:"))
    with pytest.raises(CalibrationError, match=r"bad\.yaml.*fist"):
        HandCalibration.load(bad)
    with pytest.raises(CalibrationError, match="fist.*held"):  # fist recorded with an open hand
        HandCalibration("bob", calib.open, calib.open, calib.pinch)


def test_one_euro_reduces_jitter_but_follows_motion() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(0, 2, 1 / 60)
    noisy = 0.5 + rng.normal(0, 0.02, t.size)
    f = OneEuroFilter(min_cutoff=1.5, beta=0.5)
    out = np.array([f(np.array([x]), ti)[0] for x, ti in zip(noisy, t)])
    assert np.std(out[30:]) < np.std(noisy[30:]) / 3
    f = OneEuroFilter(min_cutoff=1.5, beta=0.5)
    ramp = np.array([f(np.array([ti]), ti)[0] for ti in t])  # 1 unit/s motion
    assert abs(ramp[-1] - t[-1]) < 0.1


def test_clutch_recentres_and_ik_reaches_the_target() -> None:
    ik, fk = franka_kinematics()
    home = np.array(READY_Q)
    arm = ArmRetargeter(ik, fk, home)
    p0, q0 = fk(home)
    ident = np.array([0.0, 0.0, 0.0, 1.0])
    op = np.array([1.0, 2.0, 0.5])  # wherever the operator's tracker happens to be
    assert np.allclose(arm(op, ident, clutch=False), home)  # released: hold
    arm(op, ident, clutch=True)
    q = arm(op + [0.05, 0.0, 0.0], ident, clutch=True)
    np.testing.assert_allclose(fk(q)[0], p0 + [0.05, 0, 0], atol=1e-3)
    # release, bring the hand back, re-engage: the robot does not jump back
    q_hold = arm(op, ident, clutch=False)
    np.testing.assert_allclose(q_hold, q)
    arm(op, ident, clutch=True)
    q = arm(op + [0.05, 0.0, -0.03], ident, clutch=True)
    np.testing.assert_allclose(fk(q)[0], p0 + [0.10, 0, -0.03], atol=1e-3)
    # wrist rotation about z maps to end-effector rotation about base z
    yaw = 0.3
    qz = np.array([0, 0, math.sin(yaw / 2), math.cos(yaw / 2)])
    q = arm(op + [0.05, 0.0, -0.03], qz, clutch=True)
    R = Rotation.from_quat(fk(q)[1]).as_matrix() @ Rotation.from_quat(q0).as_matrix().T
    assert math.atan2(R[1, 0], R[0, 0]) == pytest.approx(yaw, abs=5e-3)


def test_schema_validation_and_token() -> None:
    f = TeleopFrame(1.0, np.zeros((21, 3)), np.zeros(3), np.array([0, 0, 0, 2.0]), True, 3)
    got = decode(encode(f, token="abc"), token="abc")
    assert got.clutch and got.seq == 3 and np.allclose(got.wrist_quat, [0, 0, 0, 1])
    with pytest.raises(AuthError):
        decode(encode(f, token="abd"), token="abc")
    with pytest.raises(AuthError):
        decode(encode(f), token="abc")
    with pytest.raises(PacketError, match="keypoints"):
        decode(encode(f).replace(b'"keypoints":[[0.0,0.0,0.0],', b'"keypoints":['))
    with pytest.raises(PacketError, match="clutch"):
        decode(encode(f).replace(b'"clutch":true', b'"clutch":1'))
    with pytest.raises(PacketError, match="not JSON"):
        decode(b"\xff{")
