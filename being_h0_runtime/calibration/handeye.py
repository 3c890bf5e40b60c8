"""Hand-eye calibration for a fixed camera (eye-to-hand) with a ChArUco board held by the arm.

Chain, for every view i (4x4 homogeneous transforms, T_a_b maps b-coordinates to a):

    T_base_cam  @  T_cam_board[i]  ==  T_base_flange[i]  @  T_flange_board

with T_base_flange[i] read from the robot, T_cam_board[i] from the image
(ChArUco detection + solvePnP), and two unknowns: X = T_base_cam (what we
want) and Y = T_flange_board (how the board is mounted; a by-product).

Why our own solvers: OpenCV 5 ships the CALIB_HAND_EYE_* constants but no
longer exposes `calibrateHandEye` / `calibrateRobotWorldHandEye` in the main
module (they moved out with the calib3d split). The five classic closed-form
solvers are short, so they live here in numpy, in OpenCV's formulation
(`solve_ax_xb(G, C)`: G[i] "gripper->base", C[i] "target->camera", result
"camera->gripper"). For eye-to-hand we pass G[i] = inv(T_base_flange[i]),
which makes the result T_base_cam. Closed-form solvers minimise algebraic
errors and weigh rotation and translation arbitrarily, so the answer we keep is a
joint refinement of X and Y that minimises the corner reprojection error in
pixels over all views (the error the camera actually makes), started
from the best closed-form solution. All are reported side by side.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

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


def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])


def _project_so3(M: np.ndarray) -> np.ndarray:
    U, _, Vt = np.linalg.svd(M)
    R = U @ Vt
    if np.linalg.det(R) < 0:
        R = U @ np.diag([1, 1, -1]) @ Vt
    return R


# ============================================================================ board
def make_board(spec: BoardSpec) -> "cv2.aruco.CharucoBoard":
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, spec.dictionary))
    return cv2.aruco.CharucoBoard((spec.squares_x, spec.squares_y), spec.square_m, spec.marker_m, dictionary)


@dataclass
class Detection:
    """ChArUco corners found in one image (pixel coordinates, board-frame object points)."""

    corners: np.ndarray  # (N, 2) float
    ids: np.ndarray  # (N,) int
    object_points: np.ndarray  # (N, 3) metres, board frame


def detect_charuco(image: np.ndarray, board: "cv2.aruco.CharucoBoard", min_corners: int = 6) -> Detection | None:
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


# ============================================================================ closed-form solvers
def _motions(G: Sequence[np.ndarray], C: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Relative motions (A, B) with A X = X B, for all pairs i < j."""
    out = []
    for i, j in itertools.combinations(range(len(G)), 2):
        A = inv_T(G[j]) @ G[i]
        B = C[j] @ inv_T(C[i])
        out.append((A, B))
    return out


def _translation_ls(pairs: list[tuple[np.ndarray, np.ndarray]], R: np.ndarray) -> np.ndarray:
    """(R_A - I) t = R t_B - t_A, least squares over all motions."""
    M = np.vstack([A[:3, :3] - np.eye(3) for A, _ in pairs])
    b = np.concatenate([R @ B[:3, 3] - A[:3, 3] for A, B in pairs])
    return np.linalg.lstsq(M, b, rcond=None)[0]


def _tsai(pairs):
    """Tsai-Lenz 1989: modified Rodrigues vectors, linear in rotation then translation."""
    M, b = [], []
    for A, B in pairs:
        pa = 2 * np.sin(Rotation.from_matrix(A[:3, :3]).magnitude() / 2) * _unit_axis(A[:3, :3])
        pb = 2 * np.sin(Rotation.from_matrix(B[:3, :3]).magnitude() / 2) * _unit_axis(B[:3, :3])
        M.append(_skew(pa + pb))
        b.append(pb - pa)
    p_ = np.linalg.lstsq(np.vstack(M), np.concatenate(b), rcond=None)[0]
    p = 2 * p_ / math.sqrt(1 + p_ @ p_)
    n2 = p @ p
    R = (1 - n2 / 2) * np.eye(3) + 0.5 * (np.outer(p, p) + math.sqrt(max(4 - n2, 0.0)) * _skew(p))
    R = _project_so3(R)
    return R, _translation_ls(pairs, R)


def _unit_axis(R: np.ndarray) -> np.ndarray:
    rv = Rotation.from_matrix(R).as_rotvec()
    n = np.linalg.norm(rv)
    return rv / n if n > 1e-12 else np.zeros(3)


def _park(pairs):
    """Park-Martin 1994: rotation from the Lie-algebra correlation M = sum beta alpha^T."""
    M = np.zeros((3, 3))
    for A, B in pairs:
        M += np.outer(Rotation.from_matrix(B[:3, :3]).as_rotvec(), Rotation.from_matrix(A[:3, :3]).as_rotvec())
    w, V = np.linalg.eigh(M.T @ M)
    R = V @ np.diag(1.0 / np.sqrt(np.maximum(w, 1e-300))) @ V.T @ M.T
    R = _project_so3(R)
    return R, _translation_ls(pairs, R)


def _qmat_left(q):  # q * p  as matrix on p, q = (w, x, y, z)
    w, x, y, z = q
    return np.array([[w, -x, -y, -z], [x, w, -z, y], [y, z, w, -x], [z, -y, x, w]])


def _qmat_right(q):  # p * q as matrix on p
    w, x, y, z = q
    return np.array([[w, -x, -y, -z], [x, w, z, -y], [y, -z, w, x], [z, y, -x, w]])


def _quat_wxyz(R: np.ndarray) -> np.ndarray:
    x, y, z, w = Rotation.from_matrix(R).as_quat()
    return np.array([w, x, y, z])


def _horaud(pairs):
    """Horaud-Dornaika 1995: rotation as the quaternion minimising sum |qa*q - q*qb|^2 (eigenproblem)."""
    S = np.zeros((4, 4))
    for A, B in pairs:
        qa, qb = _quat_wxyz(A[:3, :3]), _quat_wxyz(B[:3, :3])
        if qa[0] * qb[0] < 0:
            qb = -qb
        D = _qmat_left(qa) - _qmat_right(qb)
        S += D.T @ D
    w, V = np.linalg.eigh(S)
    q = V[:, 0]
    R = Rotation.from_quat([q[1], q[2], q[3], q[0]]).as_matrix()
    return R, _translation_ls(pairs, R)


def _andreff(pairs):
    """Andreff et al. 2001: linear (Kronecker) system in vec(R) and t, then projection onto SO(3)."""
    rows, rhs = [], []
    I3 = np.eye(3)
    for A, B in pairs:
        RA, tA, RB, tB = A[:3, :3], A[:3, 3], B[:3, :3], B[:3, 3]
        # RA R = R RB  ->  (I kron RA - RB^T kron I) vec(R) = 0   (column-major vec)
        rows.append(np.hstack([np.kron(I3, RA) - np.kron(RB.T, I3), np.zeros((9, 3))]))
        rhs.append(np.zeros(9))
        # RA t + tA = R tB + t  ->  (tB^T kron I) vec(R) + (I - RA) t = tA
        rows.append(np.hstack([np.kron(tB.reshape(1, 3), I3), I3 - RA]))
        rhs.append(tA)
    x = np.linalg.lstsq(np.vstack(rows), np.concatenate(rhs), rcond=None)[0]
    Rm = x[:9].reshape(3, 3, order="F")
    R = _project_so3(Rm * np.sign(np.linalg.det(Rm)) / max(abs(np.linalg.det(Rm)), 1e-12) ** (1 / 3))
    return R, _translation_ls(pairs, R)


def _dual_quat(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = _quat_wxyz(T[:3, :3])
    t = np.r_[0.0, T[:3, 3]]
    return q, 0.5 * _qmat_left(t) @ q


def _daniilidis(pairs):
    """Daniilidis 1999: rotation and translation together from dual quaternions (SVD null space)."""
    blocks = []
    for A, B in pairs:
        a, ad = _dual_quat(A)
        b, bd = _dual_quat(B)
        if a[0] * b[0] < 0:
            b, bd = -b, -bd
        top = np.hstack([(a[1:] - b[1:]).reshape(3, 1), _skew(a[1:] + b[1:]), np.zeros((3, 4))])
        bot = np.hstack([(ad[1:] - bd[1:]).reshape(3, 1), _skew(ad[1:] + bd[1:]),
                         (a[1:] - b[1:]).reshape(3, 1), _skew(a[1:] + b[1:])])
        blocks += [top, bot]
    _, _, Vt = np.linalg.svd(np.vstack(blocks))
    v7, v8 = Vt[-2], Vt[-1]
    u1, w1, u2, w2 = v7[:4], v7[4:], v8[:4], v8[4:]
    a_, b_, c_ = u1 @ w1, u1 @ w2 + u2 @ w1, u2 @ w2
    if abs(a_) < 1e-15:
        roots = [-c_ / b_]
    else:
        disc = max(b_ * b_ - 4 * a_ * c_, 0.0)
        roots = [(-b_ + math.sqrt(disc)) / (2 * a_), (-b_ - math.sqrt(disc)) / (2 * a_)]
    vals = [s * s * (u1 @ u1) + 2 * s * (u1 @ u2) + u2 @ u2 for s in roots]
    k = int(np.argmax(vals))
    s = roots[k]
    l2 = 1.0 / math.sqrt(vals[k])
    l1 = s * l2
    q = l1 * u1 + l2 * u2
    qd = l1 * w1 + l2 * w2
    R = Rotation.from_quat([q[1], q[2], q[3], q[0]]).as_matrix()
    qc = q * np.array([1, -1, -1, -1])
    t = 2 * (_qmat_left(qd) @ qc)[1:]
    return R, t


SOLVERS: dict[str, Callable] = {
    "tsai": _tsai,
    "park": _park,
    "horaud": _horaud,
    "andreff": _andreff,
    "daniilidis": _daniilidis,
}


def solve_ax_xb(G: Sequence[np.ndarray], C: Sequence[np.ndarray], method: str = "park") -> np.ndarray:
    """OpenCV-style hand-eye: G[i] gripper->base, C[i] target->camera; returns camera->gripper (4x4)."""
    if method not in SOLVERS:
        raise ValueError(f"hand-eye method {method!r} unknown; allowed: {', '.join(SOLVERS)}")
    if len(G) != len(C) or len(G) < 3:
        raise ValueError(f"hand-eye needs >= 3 paired poses, got {len(G)} robot and {len(C)} board poses")
    R, t = SOLVERS[method](_motions(G, C))
    return make_T(R, t)


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
    out = []
    for m in methods:
        try:
            X = solve_ax_xb(G, C, m)
        except (np.linalg.LinAlgError, ValueError, ZeroDivisionError) as e:  # keep the others
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
