"""Synthetic hand-eye data with known answers: eye-in-hand pose pairs and eye-to-hand board views.

No rendering: board corners are projected with a pinhole camera and perturbed by Gaussian pixel noise,
so a test (or a comparison script) gets views in milliseconds and knows the true transforms exactly.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from being_h0_runtime.calibration import handeye as he

K = np.array([[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]])
DIST = np.zeros(5)
IMAGE_SIZE = (640, 480)


def rand_T(rng: np.random.Generator, scale: float) -> np.ndarray:
    return he.make_T(Rotation.random(random_state=rng).as_matrix(), rng.normal(size=3) * scale)


def perturb(T: np.ndarray, rng: np.random.Generator, rot_deg: float, trans_m: float) -> np.ndarray:
    """T times a random small motion (Gaussian rotation vector in degrees, translation in metres)."""
    d = he.make_T(Rotation.from_rotvec(np.radians(rng.normal(size=3) * rot_deg)).as_matrix(),
                  rng.normal(size=3) * trans_m)
    return T @ d


def eye_in_hand(n: int, seed: int, rot_noise_deg: float = 0.0, trans_noise_m: float = 0.0
                ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """(G, C, X) in OpenCV's convention: G[i] gripper->base, C[i] target->camera, X camera->gripper.

    The target is fixed in the base frame; noise (if any) perturbs the measured C[i]."""
    rng = np.random.default_rng(seed)
    X, W = rand_T(rng, 0.1), rand_T(rng, 1.0)  # camera on the gripper; target in the base
    G = [rand_T(rng, 0.5) for _ in range(n)]
    C = [perturb(he.inv_T(X) @ he.inv_T(g) @ W, rng, rot_noise_deg, trans_noise_m) for g in G]
    return G, C, X


def board_points(cols: int = 7, rows: int = 5, square_m: float = 0.04) -> np.ndarray:
    """Inner corners of a chessboard in its own frame (z = 0), centred on the origin."""
    xs, ys = np.meshgrid(np.arange(cols) * square_m, np.arange(rows) * square_m)
    pts = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)
    return pts - pts.mean(axis=0) * np.array([1, 1, 0])


def eye_to_hand(n: int, seed: int, pixel_noise: float = 0.0, robot_rot_deg: float = 0.0,
                robot_trans_m: float = 0.0) -> tuple[list[he.HandEyeSample], np.ndarray, np.ndarray]:
    """(samples, T_base_cam, T_flange_board): a fixed camera watching a board held by the flange.

    Each view puts the board 0.5-0.9 m in front of the camera, tilted up to ~35 deg and rolled freely;
    the flange pose follows from the chain. Corners get `pixel_noise` px of Gaussian noise and
    T_cam_board comes from solvePnP on them, as on the rig; the robot's reported pose gets its own noise."""
    rng = np.random.default_rng(seed)
    X = he.make_T(Rotation.from_euler("xyz", [-120, 5, 80], degrees=True).as_matrix(), [0.9, -0.4, 0.7])
    Y = he.make_T(Rotation.from_euler("xyz", [180, 0, 30], degrees=True).as_matrix(), [0.02, -0.01, 0.06])
    obj = board_points()
    samples = []
    for _ in range(n):
        tilt = Rotation.from_rotvec(np.r_[rng.uniform(-1, 1, 2) * math.radians(35), 0.0])
        roll = Rotation.from_rotvec([0.0, 0.0, rng.uniform(-math.pi, math.pi)])
        t = np.r_[rng.uniform(-0.1, 0.1, 2), rng.uniform(0.5, 0.9)]
        T_cam_board_true = he.make_T((tilt * roll).as_matrix(), t)
        rv = cv2.Rodrigues(T_cam_board_true[:3, :3])[0]
        px, _ = cv2.projectPoints(obj, rv, t, K, DIST)
        corners = px.reshape(-1, 2) + rng.normal(size=(len(obj), 2)) * pixel_noise
        det = he.Detection(corners, np.arange(len(obj)), obj)
        T_cam_board, rms = he.board_pose(det, K, DIST)
        F = perturb(X @ T_cam_board_true @ he.inv_T(Y), rng, robot_rot_deg, robot_trans_m)
        samples.append(he.HandEyeSample(F, det, T_cam_board, rms))
    return samples, X, Y
