"""Hand-eye closed forms come from OpenCV: exact on noise-free data in both set-ups, the reprojection
refinement on top never worsens the pixel error, and degenerate views are refused with a clear error."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from helpers import handeye_synth as syn
from scipy.spatial.transform import Rotation

from being_h0_runtime.calibration import handeye as he


def _max_err(T: np.ndarray, T_ref: np.ndarray) -> tuple[float, float]:
    """(translation error in m, rotation error in rad)."""
    mm, deg = he.pose_error(T, T_ref)
    return mm / 1000.0, math.radians(deg)


def test_every_opencv_method_is_offered() -> None:
    assert set(he.SOLVERS) == {"tsai", "park", "horaud", "andreff", "daniilidis", "shah", "li"}


@pytest.mark.parametrize("method", he.SOLVERS)
def test_eye_in_hand_exact_without_noise(method: str) -> None:
    for seed in range(3):
        G, C, X = syn.eye_in_hand(10, seed)
        e_m, e_rad = _max_err(he.solve_ax_xb(G, C, method), X)
        assert e_m < 1e-9 and e_rad < 1e-9, (seed, e_m, e_rad)


@pytest.mark.parametrize("method", he.SOLVERS)
def test_eye_to_hand_exact_without_noise(method: str) -> None:
    """Eye-to-hand through the same call: G = inv(T_base_flange) makes the answer T_base_cam."""
    samples, X, _Y = syn.eye_to_hand(8, seed=5)
    # exact board poses (the projected corners are noise-free, but solvePnP's answer is only ~1e-12 exact)
    C = [he.inv_T(X) @ s.T_base_flange @ _Y for s in samples]
    e_m, e_rad = _max_err(he.solve_ax_xb([he.inv_T(s.T_base_flange) for s in samples], C, method), X)
    assert e_m < 1e-9 and e_rad < 1e-9, (e_m, e_rad)


def test_wrapper_returns_opencvs_own_answer_on_noisy_data() -> None:
    """The wrapper adds no processing of its own: same numbers as calling OpenCV directly."""
    G, C, _X = syn.eye_in_hand(12, seed=7, rot_noise_deg=0.2, trans_noise_m=0.002)
    for method, flag in he.HAND_EYE_METHODS.items():
        R, t = cv2.calibrateHandEye([g[:3, :3] for g in G], [g[:3, 3] for g in G], [c[:3, :3] for c in C],
                                    [c[:3, 3] for c in C], method=flag)
        np.testing.assert_allclose(he.solve_ax_xb(G, C, method), he.make_T(R, t), atol=1e-12)
    Gi = [he.inv_T(g) for g in G]
    for method, flag in he.ROBOT_WORLD_METHODS.items():
        _R, _t, R, t = cv2.calibrateRobotWorldHandEye([c[:3, :3] for c in C], [c[:3, 3:] for c in C],
                                                      [g[:3, :3] for g in Gi], [g[:3, 3:] for g in Gi], method=flag)
        np.testing.assert_allclose(he.solve_ax_xb(G, C, method), he.inv_T(he.make_T(R, t)), atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_refinement_never_worsens_reprojection(seed: int) -> None:
    samples, X, _Y = syn.eye_to_hand(12, seed, pixel_noise=0.3, robot_rot_deg=0.02, robot_trans_m=1e-4)
    sols = he.solve_eye_to_hand(samples, syn.K, syn.DIST)
    assert [s.method for s in sols] == [*he.SOLVERS, "reprojection"]
    closed, ref = sols[:-1], sols[-1]
    assert all(np.isfinite(s.reproj_rms_px) for s in closed)
    assert ref.reproj_rms_px <= min(s.reproj_rms_px for s in closed) + 1e-12
    assert ref.extra["init"] in he.SOLVERS
    e_mm, e_deg = he.pose_error(ref.T_base_cam, X)
    assert e_mm < 1.5 and e_deg < 0.15, (e_mm, e_deg)  # 0.3 px noise, 12 views: well under the rig's 2 mm


def test_refinement_from_a_poor_start_improves_it() -> None:
    samples, X, Y = syn.eye_to_hand(10, seed=3, pixel_noise=0.2)
    rng = np.random.default_rng(0)
    X0, Y0 = syn.perturb(X, rng, 1.0, 0.01), syn.perturb(Y, rng, 1.0, 0.01)
    before = he.evaluate(samples, X0, syn.K, syn.DIST, "start", Y=Y0).reproj_rms_px
    X1, Y1 = he.refine_reprojection(samples, X0, Y0, syn.K, syn.DIST)
    after = he.evaluate(samples, X1, syn.K, syn.DIST, "refined", Y=Y1).reproj_rms_px
    assert after < before and after < 0.5, (before, after)


def test_too_few_poses_is_an_error() -> None:
    G, C, _X = syn.eye_in_hand(2, seed=0)
    with pytest.raises(ValueError, match=">= 3 paired poses, got 2"):
        he.solve_ax_xb(G, C, "tsai")
    samples, _X, _Y = syn.eye_to_hand(2, seed=0)
    with pytest.raises(ValueError, match="at least 3 views"):
        he.solve_eye_to_hand(samples, syn.K, syn.DIST)


def test_pure_translations_are_an_error() -> None:
    rng = np.random.default_rng(0)
    R = Rotation.random(random_state=rng).as_matrix()
    G = [he.make_T(R, rng.normal(size=3) * 0.3) for _ in range(6)]
    C = [he.make_T(R.T, rng.normal(size=3)) for _ in range(6)]
    for method in he.SOLVERS:
        with pytest.raises(ValueError, match="pure translations"):
            he.solve_ax_xb(G, C, method)


def test_rotation_about_one_axis_only_is_an_error() -> None:
    rng = np.random.default_rng(1)
    G = [he.make_T(Rotation.from_rotvec([0, 0, a]).as_matrix(), rng.normal(size=3)) for a in (0.0, 0.4, 0.9, 1.5)]
    C = [he.inv_T(g) for g in G]
    with pytest.raises(ValueError, match="same axis"):
        he.solve_ax_xb(G, C, "park")


def test_nan_pose_is_an_error_naming_it() -> None:
    G, C, _X = syn.eye_in_hand(6, seed=0)
    C[4] = C[4].copy()
    C[4][1, 3] = np.nan
    with pytest.raises(ValueError, match="board pose 4 must be a finite 4x4"):
        he.solve_ax_xb(G, C, "daniilidis")
    samples, _X, _Y = syn.eye_to_hand(6, seed=0)
    samples[2].T_base_flange = samples[2].T_base_flange.copy()
    samples[2].T_base_flange[0, 0] = np.nan
    with pytest.raises(ValueError, match="robot pose 2"):
        he.solve_eye_to_hand(samples, syn.K, syn.DIST)


def test_unknown_method_lists_the_allowed_ones() -> None:
    G, C, _X = syn.eye_in_hand(4, seed=0)
    with pytest.raises(ValueError, match="allowed: tsai, park, horaud, andreff, daniilidis, shah, li"):
        he.solve_ax_xb(G, C, "magic")
