"""Hand-eye calibration for a fixed camera (eye-to-hand) with a ChArUco board held by the arm.

Chain, for every view i (4x4 homogeneous transforms, T_a_b maps b-coordinates to a):

    T_base_cam  @  T_cam_board[i]  ==  T_base_flange[i]  @  T_flange_board

with T_base_flange[i] read from the robot, T_cam_board[i] from the image
(ChArUco detection + solvePnP), and two unknowns: X = T_base_cam (what we
want) and Y = T_flange_board (how the board is mounted; a by-product).

The closed forms are OpenCV's (`cv2.calibrateHandEye`: Tsai, Park, Horaud,
Andreff, Daniilidis; `cv2.calibrateRobotWorldHandEye`: Shah, Li), wrapped in
OpenCV's formulation (`solve_ax_xb(G, C)`: G[i] "gripper->base", C[i]
"target->camera", result "camera->gripper"). For eye-to-hand we pass
G[i] = inv(T_base_flange[i]), which makes the result T_base_cam. OpenCV does
not reject degenerate input (too few views, pure translations, NaN), so
`check_pose_pairs` does. Closed-form solvers minimise algebraic errors and
weigh rotation and translation arbitrarily, so the answer we keep is a joint
refinement of X and Y that minimises the corner reprojection error in pixels
over all views (the error the camera actually makes), started from the best
closed-form solution. All are reported side by side.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from .schema import BoardSpec, SolverResult


# ============================================================================ transforms
def make_T(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = np.asarray(t, float).reshape(3)
    return T


def inv_T(T: np.ndarray) -> np.ndarray:
    R, t = T[:3, :3], T[:3, 3]
    return make_T(R.T, -R.T @ t)


def pose_to_T(pos: Sequence[float], quat_xyzw: Sequence[float]) -> np.ndarray:
    return make_T(Rotation.from_quat(np.asarray(quat_xyzw, float)).as_matrix(), np.asarray(pos, float))


def T_to_pose(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return T[:3, 3].copy(), Rotation.from_matrix(T[:3, :3]).as_quat()


def pose_error(T_est: np.ndarray, T_ref: np.ndarray) -> tuple[float, float]:
    """(translation error in mm, rotation error in degrees) between two poses."""
    dt = float(np.linalg.norm(T_est[:3, 3] - T_ref[:3, 3])) * 1000.0
    dR = T_est[:3, :3].T @ T_ref[:3, :3]
    ang = math.degrees(float(Rotation.from_matrix(dR).magnitude()))  # precise near 0, unlike acos(trace)
    return dt, ang


# ============================================================================ board
def make_board(spec: BoardSpec) -> cv2.aruco.CharucoBoard:
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, spec.dictionary))
    return cv2.aruco.CharucoBoard((spec.squares_x, spec.squares_y), spec.square_m, spec.marker_m, dictionary)


@dataclass
class Detection:
    """ChArUco corners found in one image (pixel coordinates, board-frame object points)."""

    corners: np.ndarray  # (N, 2) float
    ids: np.ndarray  # (N,) int
    object_points: np.ndarray  # (N, 3) metres, board frame


def detect_charuco(image: np.ndarray, board: cv2.aruco.CharucoBoard, min_corners: int = 6) -> Detection | None:
    """Detect ChArUco corners and refine them to subpixel accuracy; None if too few are seen."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    detector = cv2.aruco.CharucoDetector(board)
    cc, ci, _mc, _mi = detector.detectBoard(gray)
    if ci is None or len(ci) < min_corners:
        return None
    cc = cc.reshape(-1, 1, 2).astype(np.float32)
    # Window ~ a third of a square in pixels (estimated from neighbouring corners), at least 2 px.
    win = 3
    if len(cc) > 1:
        d = np.linalg.norm(np.diff(cc.reshape(-1, 2), axis=0), axis=1)
        win = int(np.clip(np.median(d) / 4.0, 2, 8))
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-4)
    cc = cv2.cornerSubPix(gray, cc, (win, win), (-1, -1), crit)
    ids = ci.reshape(-1).astype(int)
    obj = np.asarray(board.getChessboardCorners(), float)[ids]
    return Detection(cc.reshape(-1, 2).astype(float), ids, obj)


def board_pose(det: Detection, K: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, float]:
    """T_cam_board from one detection (solvePnP + Levenberg-Marquardt refinement) and its RMS in px."""
    obj, img = det.object_points.astype(np.float64), det.corners.astype(np.float64)
    ok, rv, tv = cv2.solvePnP(obj, img, K, dist, flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        ok, rv, tv = cv2.solvePnP(obj, img, K, dist)
    rv, tv = cv2.solvePnPRefineLM(obj, img, K, dist, rv, tv)
    proj, _ = cv2.projectPoints(obj, rv, tv, K, dist)
    rms = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - img) ** 2, axis=1))))
    return make_T(cv2.Rodrigues(rv)[0], tv), rms


# ============================================================================ closed-form solvers (OpenCV)
# OpenCV's hand-eye solvers (calib3d): AX = XB on relative motions ...
HAND_EYE_METHODS: dict[str, int] = {
    "tsai": cv2.CALIB_HAND_EYE_TSAI,  # Tsai-Lenz 1989
    "park": cv2.CALIB_HAND_EYE_PARK,  # Park-Martin 1994
    "horaud": cv2.CALIB_HAND_EYE_HORAUD,  # Horaud-Dornaika 1995
    "andreff": cv2.CALIB_HAND_EYE_ANDREFF,  # Andreff et al. 1999
    "daniilidis": cv2.CALIB_HAND_EYE_DANIILIDIS,  # Daniilidis 1999 (dual quaternions)
}
# ... and its robot-world-hand-eye solvers: AX = ZB on absolute poses, camera and board mount together.
ROBOT_WORLD_METHODS: dict[str, int] = {
    "shah": cv2.CALIB_ROBOT_WORLD_HAND_EYE_SHAH,  # Shah 2013 (Kronecker product)
    "li": cv2.CALIB_ROBOT_WORLD_HAND_EYE_LI,  # Li et al. 2010 (simultaneous)
}
SOLVERS: tuple[str, ...] = (*HAND_EYE_METHODS, *ROBOT_WORLD_METHODS)

MIN_ROTATION_DEG = 1.0  # relative robot rotations below this carry no usable rotation information
MIN_AXIS_SPREAD_DEG = 2.0  # two rotation axes closer than this count as the same axis


def check_pose_pairs(G: Sequence[np.ndarray], C: Sequence[np.ndarray]) -> None:
    """Raise ValueError naming the problem when (G, C) cannot determine a hand-eye transform.

    OpenCV returns a number for degenerate input too (a NaN, or an arbitrary
    rotation when the robot only translated), so the checks happen here: at
    least 3 paired finite rigid poses, and robot rotations about at least two
    different axes (rotation about a single axis leaves X's rotation about that
    axis, and its translation along it, undetermined).
    """
    if len(G) != len(C) or len(G) < 3:
        raise ValueError(f"hand-eye needs >= 3 paired poses, got {len(G)} robot and {len(C)} board poses")
    for name, poses in (("robot", G), ("board", C)):
        for i, T in enumerate(poses):
            T = np.asarray(T, float)
            if T.shape != (4, 4) or not np.all(np.isfinite(T)):
                raise ValueError(f"hand-eye: {name} pose {i} must be a finite 4x4 transform, got {T.tolist()}")
            R = T[:3, :3]
            if np.abs(R.T @ R - np.eye(3)).max() > 1e-6 or np.linalg.det(R) < 0:
                raise ValueError(f"hand-eye: {name} pose {i} has a rotation part that is not a rotation")
    pairs = list(itertools.combinations(range(len(G)), 2))
    rv = Rotation.from_matrix(np.stack([G[j][:3, :3].T @ G[i][:3, :3] for i, j in pairs])).as_rotvec()
    angle = np.linalg.norm(rv, axis=1)
    axes = rv[angle > math.radians(MIN_ROTATION_DEG)] / angle[angle > math.radians(MIN_ROTATION_DEG), None]
    if not len(axes):
        raise ValueError(f"hand-eye: the robot poses differ by less than {MIN_ROTATION_DEG} deg of rotation "
                         "(pure translations); rotate the flange between views")
    spread = float(np.linalg.norm(np.cross(axes[0], axes), axis=1).max())
    if spread < math.sin(math.radians(MIN_AXIS_SPREAD_DEG)):
        raise ValueError("hand-eye: every robot rotation between views is about the same axis; "
                         "rotate the flange about at least two different axes")


def solve_ax_xb(G: Sequence[np.ndarray], C: Sequence[np.ndarray], method: str = "park") -> np.ndarray:
    """OpenCV-style hand-eye: G[i] gripper->base, C[i] target->camera; returns camera->gripper (4x4)."""
    if method not in SOLVERS:
        raise ValueError(f"hand-eye method {method!r} unknown; allowed: {', '.join(SOLVERS)}")
    check_pose_pairs(G, C)
    G = [np.asarray(T, np.float64) for T in G]
    C = [np.asarray(T, np.float64) for T in C]
    if method in HAND_EYE_METHODS:
        R, t = cv2.calibrateHandEye([T[:3, :3] for T in G], [T[:3, 3:] for T in G],
                                    [T[:3, :3] for T in C], [T[:3, 3:] for T in C], method=HAND_EYE_METHODS[method])
        X = make_T(R, t)
    else:
        # OpenCV's robot-world form: cTw = cTg gTb bTw with w = the target and the camera on the gripper;
        # inputs world->camera (= C) and base->gripper (= inv G), outputs base->world and gripper->camera.
        Gi = [inv_T(T) for T in G]
        _Rbw, _tbw, R, t = cv2.calibrateRobotWorldHandEye(
            [T[:3, :3] for T in C], [T[:3, 3:] for T in C], [T[:3, :3] for T in Gi], [T[:3, 3:] for T in Gi],
            method=ROBOT_WORLD_METHODS[method])
        X = inv_T(make_T(R, t))
    if not np.all(np.isfinite(X)):
        raise ValueError(f"hand-eye method {method!r}: OpenCV returned a non-finite transform")
    return X


# ============================================================================ eye-to-hand
@dataclass
class HandEyeSample:
    """One view: the flange pose the robot reported and the board seen by the camera."""

    T_base_flange: np.ndarray
    detection: Detection
    T_cam_board: np.ndarray
    pnp_rms_px: float


@dataclass
class HandEyeSolution:
    method: str
    T_base_cam: np.ndarray
    T_flange_board: np.ndarray
    rot_residual_deg: float
    trans_residual_mm: float
    reproj_rms_px: float
    extra: dict = field(default_factory=dict)

    def as_result(self) -> SolverResult:
        p, q = T_to_pose(self.T_base_cam)
        return SolverResult(method=self.method, translation=[float(x) for x in p],
                            quaternion_xyzw=[float(x) for x in q], rot_residual_deg=self.rot_residual_deg,
                            trans_residual_mm=self.trans_residual_mm, reproj_rms_px=self.reproj_rms_px)


def _mean_pose(Ts: Sequence[np.ndarray]) -> np.ndarray:
    R = Rotation.from_matrix(np.stack([T[:3, :3] for T in Ts])).mean().as_matrix()
    return make_T(R, np.mean([T[:3, 3] for T in Ts], axis=0))


def _project(samples: Sequence[HandEyeSample], X: np.ndarray, Y: np.ndarray, K: np.ndarray,
             dist: np.ndarray) -> np.ndarray:
    """Pixel residuals of all corners when board poses come from the robot chain inv(X) F Y."""
    Xi = inv_T(X)
    res = []
    for s in samples:
        T = Xi @ s.T_base_flange @ Y
        rv = cv2.Rodrigues(T[:3, :3])[0]
        proj, _ = cv2.projectPoints(s.detection.object_points, rv, T[:3, 3], K, dist)
        res.append((proj.reshape(-1, 2) - s.detection.corners).ravel())
    return np.concatenate(res)


def evaluate(samples: Sequence[HandEyeSample], X: np.ndarray, K: np.ndarray, dist: np.ndarray, method: str,
             Y: np.ndarray | None = None) -> HandEyeSolution:
    """Residuals of a candidate T_base_cam: spread of the implied board mount, and reprojection RMS.

    Every view implies a mount Y_i = inv(F_i) X C_i; for the true X they agree,
    so their spread (RMS angle / distance from the mean) measures how
    consistent X is with the data, independently of how X was found.
    """
    Ys = [inv_T(s.T_base_flange) @ X @ s.T_cam_board for s in samples]
    Ym = _mean_pose(Ys)
    rot = [pose_error(Yi, Ym)[1] for Yi in Ys]
    tr = [pose_error(Yi, Ym)[0] for Yi in Ys]
    Yuse = Ym if Y is None else Y
    r = _project(samples, X, Yuse, K, dist).reshape(-1, 2)
    return HandEyeSolution(method, X, Yuse, float(np.sqrt(np.mean(np.square(rot)))),
                           float(np.sqrt(np.mean(np.square(tr)))), float(np.sqrt(np.mean(np.sum(r * r, axis=1)))))


def refine_reprojection(samples: Sequence[HandEyeSample], X0: np.ndarray, Y0: np.ndarray, K: np.ndarray,
                        dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Jointly refine X = T_base_cam and Y = T_flange_board by minimising corner reprojection (pixels)."""

    def unpack(p):
        return (X0 @ make_T(Rotation.from_rotvec(p[:3]).as_matrix(), p[3:6]),
                Y0 @ make_T(Rotation.from_rotvec(p[6:9]).as_matrix(), p[9:12]))

    sol = least_squares(lambda p: _project(samples, *unpack(p), K, dist), np.zeros(12), method="lm",
                        x_scale=np.r_[[1e-3] * 3, [1e-3] * 3, [1e-3] * 3, [1e-3] * 3])
    return unpack(sol.x)


def solve_eye_to_hand(samples: Sequence[HandEyeSample], K: np.ndarray, dist: np.ndarray,
                      methods: Sequence[str] = tuple(SOLVERS)) -> list[HandEyeSolution]:
    """All closed-form solvers, then the reprojection refinement (last entry, the one to keep)."""
    if len(samples) < 3:
        raise ValueError(f"hand-eye needs at least 3 views with the board detected, got {len(samples)}")
    G = [inv_T(s.T_base_flange) for s in samples]
    C = [s.T_cam_board for s in samples]
    check_pose_pairs(G, C)  # degenerate views are an error for every method, not one solver's failure
    out = []
    for m in methods:
        try:
            X = solve_ax_xb(G, C, m)
        except (cv2.error, np.linalg.LinAlgError, ValueError) as e:  # keep the others
            out.append(HandEyeSolution(m, np.full((4, 4), np.nan), np.full((4, 4), np.nan), math.inf, math.inf,
                                       math.inf, {"error": str(e)}))
            continue
        out.append(evaluate(samples, X, K, dist, m))
    ok = [s for s in out if np.isfinite(s.reproj_rms_px)]
    if not ok:
        raise RuntimeError("every closed-form hand-eye solver failed: " + "; ".join(s.extra.get("error", "")
                                                                                   for s in out))
    best = min(ok, key=lambda s: s.reproj_rms_px)
    X, Y = refine_reprojection(samples, best.T_base_cam, best.T_flange_board, K, dist)
    ref = evaluate(samples, X, K, dist, "reprojection", Y=Y)
    if not ref.reproj_rms_px <= best.reproj_rms_px:  # LM only descends; this guards a NaN or a bad step
        ref = evaluate(samples, best.T_base_cam, K, dist, "reprojection", Y=best.T_flange_board)
    ref.extra["init"] = best.method
    out.append(ref)
    return out


def format_table(solutions: Sequence[HandEyeSolution], truth: np.ndarray | None = None) -> str:
    """Solver comparison as a text table (what `being-h0 calibrate hand-eye` prints)."""
    head = f"{'method':<13}{'x (m)':>9}{'y (m)':>9}{'z (m)':>9}{'rot res°':>10}{'trans res mm':>14}{'reproj px':>11}"
    if truth is not None:
        head += f"{'err mm':>9}{'err °':>8}"
    lines = [head, "-" * len(head)]
    for s in solutions:
        if not np.all(np.isfinite(s.T_base_cam)):
            lines.append(f"{s.method:<13} failed: {s.extra.get('error', '')}")
            continue
        t = s.T_base_cam[:3, 3]
        line = (f"{s.method:<13}{t[0]:9.4f}{t[1]:9.4f}{t[2]:9.4f}{s.rot_residual_deg:10.4f}"
                f"{s.trans_residual_mm:14.3f}{s.reproj_rms_px:11.3f}")
        if truth is not None:
            e_mm, e_deg = pose_error(s.T_base_cam, truth)
            line += f"{e_mm:9.3f}{e_deg:8.4f}"
        lines.append(line)
    return "\n".join(lines)
