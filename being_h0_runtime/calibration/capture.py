"""Guided capture for eye-to-hand calibration: plan diverse, reachable, visible arm poses; record views.

Procedure (the same on the rig and on the virtual rig):

1. The operator jogs the arm so the board is roughly centred in the image,
   facing the camera (the "centre" pose). We detect the board there.
2. From that one view and a rough board mount (`Y0`, from the bracket
   drawing, cm accuracy is plenty) we predict where the board would appear
   for any flange pose, without knowing the camera pose yet.
3. Candidate board poses around the centre (tilted 10-35 deg about random
   axes, shifted a few cm) are turned into flange targets, solved with IK
   inside the FR3 joint limits, and kept only if every board corner is
   predicted inside the image (with a margin) and the board faces the camera.
   Among those we keep the most diverse (farthest-point in rotation), since
   hand-eye accuracy comes from rotation about different axes.
4. The arm visits each pose, settles, and we save the image and the pose the
   robot reports (`views/view_NNN.png`, `views/poses.yaml`), so a solve can be
   repeated offline (`being-h0 calibrate hand-eye --from DIR`).

Motion between poses is point-to-point in joint space and is not checked
for collisions with the scene: keep the workspace clear, e-stop in reach.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol, Sequence

import cv2
import numpy as np
import yaml
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from ..rig import franka
from .handeye import Detection, HandEyeSample, board_pose, detect_charuco, inv_T, make_T


class RobotCamera(Protocol):
    """What the capture needs from a rig: joint moves, the reported flange pose, and a colour image."""

    def joints(self) -> np.ndarray: ...

    def move_joints(self, q: np.ndarray) -> None:
        """Move and return once settled."""

    def flange_pose(self) -> np.ndarray:
        """4x4 T_base_flange as the robot reports it."""

    def grab(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB."""


# ----------------------------------------------------------------------------- IK
_Q_MARGIN = 0.05  # rad kept from every joint limit


def ik(T_target: np.ndarray, q0: np.ndarray, pos_tol_m: float = 1e-3, rot_tol_deg: float = 0.2
       ) -> tuple[np.ndarray, bool]:
    """Flange IK on the published FR3 DH model, bounded by the joint limits (minus a margin).

    A small pull towards `q0` resolves the redundancy so the arm does not
    reconfigure between neighbouring views.
    """
    lo, hi = franka.Q_MIN + _Q_MARGIN, franka.Q_MAX - _Q_MARGIN
    q0 = np.clip(np.asarray(q0, float), lo + 1e-6, hi - 1e-6)
    Rt, pt = T_target[:3, :3], T_target[:3, 3]

    def res(q):
        T = franka.dh_fk(q)
        rot = Rotation.from_matrix(Rt.T @ T[:3, :3]).as_rotvec()
        return np.r_[(T[:3, 3] - pt) * 10.0, rot * 1.0, 1e-3 * (q - q0)]

    sol = least_squares(res, q0, bounds=(lo, hi), xtol=1e-10, ftol=1e-10, max_nfev=200)
    T = franka.dh_fk(sol.x)
    e_p = float(np.linalg.norm(T[:3, 3] - pt))
    e_r = math.degrees(float(np.linalg.norm(Rotation.from_matrix(Rt.T @ T[:3, :3]).as_rotvec())))
    return sol.x, (e_p < pos_tol_m and e_r < rot_tol_deg)


# ----------------------------------------------------------------------------- visibility
def board_outline(board: "cv2.aruco.CharucoBoard") -> np.ndarray:
    """Board corners (4, 3) in the board frame, for visibility checks."""
    sx, sy = board.getChessboardSize()
    L = board.getSquareLength()
    return np.array([[0, 0, 0], [sx * L, 0, 0], [sx * L, sy * L, 0], [0, sy * L, 0]], float)


def visible(T_cam_board: np.ndarray, board: "cv2.aruco.CharucoBoard", K: np.ndarray, size: tuple[int, int],
            margin_px: float = 25.0, max_incidence_deg: float = 55.0) -> bool:
    """All board corners predicted inside the image (with a margin) and the board facing the camera."""
    pts = (T_cam_board[:3, :3] @ board_outline(board).T).T + T_cam_board[:3, 3]
    if np.any(pts[:, 2] < 0.2):
        return False
    uv = (K @ pts.T).T
    uv = uv[:, :2] / uv[:, 2:3]
    w, h = size
    if np.any(uv[:, 0] < margin_px) or np.any(uv[:, 0] > w - margin_px) or np.any(uv[:, 1] < margin_px) \
            or np.any(uv[:, 1] > h - margin_px):
        return False
    centre = pts.mean(axis=0)
    normal = T_cam_board[:3, 2]  # board z; it points away from the printed side's viewer
    cosang = float(normal @ centre / np.linalg.norm(centre))
    return cosang > math.cos(math.radians(max_incidence_deg))


# ----------------------------------------------------------------------------- planning
def plan_views(q_centre: np.ndarray, T_base_flange_c: np.ndarray, T_cam_board_c: np.ndarray, Y0: np.ndarray,
               board: "cv2.aruco.CharucoBoard", K: np.ndarray, size: tuple[int, int], n: int = 20,
               seed: int = 0, max_tilt_deg: float = 35.0, max_shift_m: float = 0.08,
               max_candidates: int = 400) -> list[np.ndarray]:
    """Joint targets for `n` diverse views that are reachable and keep the board in view (see module doc)."""
    rng = np.random.default_rng(seed)
    T_base_cam_est = T_base_flange_c @ Y0 @ inv_T(T_cam_board_c)
    T_cam_base_est = inv_T(T_base_cam_est)
    Y0_inv = inv_T(Y0)
    centre_b = T_cam_board_c[:3, :3] @ board_outline(board).mean(axis=0) + T_cam_board_c[:3, 3]
    kept: list[tuple[np.ndarray, np.ndarray]] = []  # (q, R_cam_board)
    q_prev = np.asarray(q_centre, float)
    for _ in range(max_candidates):
        if len(kept) >= 3 * n:
            break
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        ang = math.radians(rng.uniform(10.0, max_tilt_deg))
        Rd = Rotation.from_rotvec(axis * ang).as_matrix()
        shift = rng.uniform(-max_shift_m, max_shift_m, size=3) * np.array([1.0, 1.0, 1.5])
        # rotate the board about its own centre (camera axes), then shift it
        Tc = np.eye(4)
        Tc[:3, :3] = Rd @ T_cam_board_c[:3, :3]
        Tc[:3, 3] = Rd @ (T_cam_board_c[:3, 3] - centre_b) + centre_b + shift
        T_target = T_base_cam_est @ Tc @ Y0_inv
        q, ok = ik(T_target, q_prev)
        if not ok:
            continue
        T_pred = T_cam_base_est @ franka.dh_fk(q) @ Y0
        if not visible(T_pred, board, K, size):
            continue
        kept.append((q, T_pred[:3, :3]))
    if len(kept) < n:
        raise RuntimeError(f"hand-eye planning: only {len(kept)} reachable views with the board visible "
                           f"(wanted {n}); move the centre pose closer to the middle of the image / workspace")
    # farthest-point selection in rotation, starting next to the centre view
    R_c = T_cam_board_c[:3, :3]
    chosen: list[int] = []
    dmin = np.array([_ang(R_c, R) for _, R in kept])
    for _ in range(n):
        i = int(np.argmax(dmin))
        chosen.append(i)
        dmin = np.minimum(dmin, [_ang(kept[i][1], R) for _, R in kept])
        dmin[chosen] = -1.0
    return [kept[i][0] for i in chosen]


def _ang(Ra: np.ndarray, Rb: np.ndarray) -> float:
    return float(np.linalg.norm(Rotation.from_matrix(Ra.T @ Rb).as_rotvec()))


# ----------------------------------------------------------------------------- capture / storage
def capture_views(robot: RobotCamera, targets: Sequence[np.ndarray], board: "cv2.aruco.CharucoBoard",
                  K: np.ndarray, dist: np.ndarray, out_dir: str | Path | None = None,
                  min_corners: int = 8, meta: dict | None = None) -> list[HandEyeSample]:
    """Visit each joint target, record image + reported flange pose, detect the board, estimate its pose."""
    samples: list[HandEyeSample] = []
    records = []
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    for k, q in enumerate(targets):
        robot.move_joints(np.asarray(q, float))
        F = robot.flange_pose()
        img = robot.grab()
        name = f"view_{k:03d}.png"
        if out is not None:
            cv2.imwrite(str(out / name), img[:, :, ::-1])
        records.append({"image": name, "q": [float(x) for x in robot.joints()],
                        "T_base_flange": [[float(x) for x in row] for row in F]})
        s = sample_from_image(img, F, board, K, dist, min_corners)
        if s is not None:
            samples.append(s)
    if out is not None:
        (out / "poses.yaml").write_text(yaml.safe_dump({**(meta or {}), "views": records}, default_flow_style=None, sort_keys=False))
    return samples


def sample_from_image(img: np.ndarray, T_base_flange: np.ndarray, board: "cv2.aruco.CharucoBoard",
                      K: np.ndarray, dist: np.ndarray, min_corners: int = 8) -> HandEyeSample | None:
    det: Detection | None = detect_charuco(img, board, min_corners)
    if det is None:
        return None
    T_cb, rms = board_pose(det, K, dist)
    return HandEyeSample(np.asarray(T_base_flange, float), det, T_cb, rms)


def load_views(view_dir: str | Path, board: "cv2.aruco.CharucoBoard", K: np.ndarray, dist: np.ndarray,
               min_corners: int = 8) -> list[HandEyeSample]:
    """Re-detect a saved capture (views/poses.yaml + images) for an offline solve."""
    from ..config import ConfigError

    d = Path(view_dir)
    p = d / "poses.yaml"
    try:
        data = yaml.safe_load(p.read_text())
        views = data["views"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
        raise ConfigError(f"{p}: cannot read saved views ({e})") from None
    out = []
    for i, v in enumerate(views):
        try:
            F = np.asarray(v["T_base_flange"], float).reshape(4, 4)
            img = cv2.imread(str(d / v["image"]))
        except (KeyError, ValueError, TypeError) as e:
            raise ConfigError(f"{p}: field 'views.{i}': {e}") from None
        if img is None:
            raise ConfigError(f"{p}: field 'views.{i}.image': cannot read {d / v['image']}")
        s = sample_from_image(img[:, :, ::-1], F, board, K, dist, min_corners)
        if s is not None:
            out.append(s)
    return out


__all__ = ["RobotCamera", "ik", "visible", "plan_views", "capture_views", "load_views", "sample_from_image",
           "make_T"]
