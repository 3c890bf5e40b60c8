"""End-to-end hand-eye check on the virtual rig: a ChArUco board on the flange, the real capture and solve.

The virtual rig has no board, and `sim/` is not ours to change, so
`BoardRig` extends `VirtualRig`: after the stock model is compiled it appends
one *mocap* body carrying a thin textured box (the board image, made with
cv2.aruco, is written into the texture after compilation). A mocap body
appended at the end of the worldbody adds no joint, site or camera and comes
after every existing body and geom, so every id VirtualRig computed stays
valid; we re-check that instead of trusting it. The board is kept rigidly
at a fixed mount on the flange by re-posing it after every physics step
(`step`, `reset`), so to the camera it is a board bolted to the hand.

Then the procedure is the one a rig runs (capture.py, handeye.py): centre
view, view planning with IK and visibility prediction, moves, images, ChArUco
detection with subpixel corners, PnP, OpenCV's seven closed forms + reprojection
refinement. The only privileged data are the ground truth compared against
at the end (`camera_pose()`, already in OpenCV optical axes) and, for the
operator's "jog the board in front of the camera" step, a camera pose guess
deliberately perturbed by centimetres and degrees.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from ..rig import franka
from ..sim.world import VirtualRig
from .capture import capture_views, ik, plan_views, sample_from_image, visible
from .handeye import HandEyeSolution, inv_T, make_board, make_T, pose_error, pose_to_T, solve_eye_to_hand
from .schema import BoardSpec

#: Board used on the virtual rig (and a sensible default print: A4 fits 5x4 squares of 40 mm).
SIM_BOARD = BoardSpec(squares_x=5, squares_y=4, square_m=0.04, marker_m=0.03, dictionary="DICT_4X4_50")
_BODY = "calib_board"
_PX_PER_SQUARE = 128


def _hand_in_flange() -> np.ndarray:
    """The hand body sits on the flange rotated -45 deg about z (scene.py)."""
    return make_T(Rotation.from_euler("z", -45.0, degrees=True).as_matrix(), np.zeros(3))


def board_geom_in_flange(spec: BoardSpec) -> np.ndarray:
    """Mount of the board *geom* (face normal = geom +z) on the flange: a paddle beside the hand.

    In the hand frame the paddle's centre is 14 cm along +y (towards the
    camera at the home pose) at the flange plane, printed side facing -z
    (up, at the home pose), so neither hand nor wrist hide it.
    """
    R_hg = np.column_stack([[1, 0, 0], [0, -1, 0], [0, 0, -1]]).astype(float)  # geom x=hand x, y=-y, z=-z
    half_y = spec.squares_y * spec.square_m / 2
    return _hand_in_flange() @ make_T(R_hg, [0.0, 0.06 + half_y, 0.02])


def board_in_geom(spec: BoardSpec, half_thickness: float) -> np.ndarray:
    """OpenCV board frame (origin at the first outer corner, z into the board) in the geom frame."""
    hx, hy = spec.squares_x * spec.square_m / 2, spec.squares_y * spec.square_m / 2
    return make_T(np.diag([1.0, -1.0, -1.0]), [-hx, hy, half_thickness])


class BoardRig(VirtualRig):
    """VirtualRig with a ChArUco board bolted to the flange (see module docstring)."""

    HALF_THICKNESS = 0.002

    def __init__(self, board: BoardSpec = SIM_BOARD, **kwargs) -> None:
        self.board_spec = board
        self.T_flange_geom = board_geom_in_flange(board)
        super().__init__(**kwargs)

    # The stock model, plus the board appended last.
    def _build(self, spec) -> None:  # type: ignore[override]
        super()._build(spec)
        base = self.model
        b = self.board_spec
        W, H = b.squares_x * _PX_PER_SQUARE, b.squares_y * _PX_PER_SQUARE
        hx, hy, hz = b.squares_x * b.square_m / 2, b.squares_y * b.square_m / 2, self.HALF_THICKNESS
        asset = (f'<texture name="{_BODY}" type="2d" builtin="flat" rgb1="1 1 1" width="{W}" height="{H}"/>'
                 f'<material name="{_BODY}" texture="{_BODY}" emission="1" specular="0" shininess="0"/>'
                 + _box_mesh(hx, hy, hz))
        body = (f'<body name="{_BODY}" mocap="true"><geom name="{_BODY}" type="mesh" mesh="{_BODY}" '
                f'material="{_BODY}" contype="0" conaffinity="0" mass="0.001"/></body>')
        xml = self._xml.replace("</asset>", asset + "</asset>", 1).replace("</worldbody>", body + "</worldbody>", 1)
        model = mujoco.MjModel.from_xml_string(xml)
        for kind, n_old, n_new in (("body", base.nbody, model.nbody - 1), ("geom", base.ngeom, model.ngeom - 1),
                                   ("joint", base.njnt, model.njnt), ("site", base.nsite, model.nsite),
                                   ("camera", base.ncam, model.ncam)):
            if n_old != n_new:
                raise RuntimeError(f"BoardRig: adding the board changed the {kind} count ({n_old} -> {n_new})")
        img = cv2.aruco.CharucoBoard.generateImage(make_board(b), (W, H), marginSize=0)
        t = model.texture(_BODY).id
        adr, n = model.tex_adr[t], W * H * 3
        model.tex_data[adr:adr + n] = np.repeat(img[:, :, None], 3, axis=2).reshape(-1)
        self._xml, self.model, self.data = xml, model, mujoco.MjData(model)
        self._board_mocap = int(model.body(_BODY).mocapid[0])

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._sync_board()

    def step(self, n: int = 1) -> None:
        super().step(n)
        self._sync_board()

    def _sync_board(self) -> None:
        d = self.data
        sid = self._ids.flange
        T = make_T(d.site_xmat[sid].reshape(3, 3), d.site_xpos[sid]) @ self.T_flange_geom
        q = np.zeros(4)
        mujoco.mju_mat2Quat(q, T[:3, :3].reshape(-1))
        d.mocap_pos[self._board_mocap] = T[:3, 3]
        d.mocap_quat[self._board_mocap] = q
        mujoco.mj_kinematics(self.model, d)

    def true_flange_board(self) -> np.ndarray:
        """Ground-truth T_flange_board (OpenCV board frame); for checks only."""
        return self.T_flange_geom @ board_in_geom(self.board_spec, self.HALF_THICKNESS)


def _box_mesh(hx: float, hy: float, hz: float) -> str:
    """Thin box mesh whose +z face carries the whole texture exactly once (uv 0..1)."""
    v = [(-hx, -hy, hz), (hx, -hy, hz), (hx, hy, hz), (-hx, hy, hz),
         (-hx, -hy, -hz), (hx, -hy, -hz), (hx, hy, -hz), (-hx, hy, -hz)]
    uv = [(0, 1), (1, 1), (1, 0), (0, 0)] * 2
    f = [(0, 1, 2), (0, 2, 3), (4, 6, 5), (4, 7, 6), (0, 4, 5), (0, 5, 1), (1, 5, 6), (1, 6, 2), (2, 6, 7),
         (2, 7, 3), (3, 7, 4), (3, 4, 0)]
    s = lambda L: " ".join(" ".join(f"{x:.9g}" for x in t) for t in L)  # noqa: E731
    return f'<mesh name="{_BODY}" vertex="{s(v)}" face="{s(f)}" texcoord="{s(uv)}"/>'


class SimRobot:
    """RobotCamera over a BoardRig: joint moves settle under the rig's own servo, images are rendered."""

    def __init__(self, rig: BoardRig, settle_tol: float = 1e-4, max_s: float = 4.0) -> None:
        self.rig, self.tol, self.max_steps = rig, settle_tol, int(max_s / rig.physics_dt)

    def joints(self) -> np.ndarray:
        return self.rig.arm_q()

    def move_joints(self, q: np.ndarray) -> None:
        self.rig.set_arm_target(q)
        for _ in range(0, self.max_steps, 50):
            self.rig.step(50)
            if np.max(np.abs(self.rig.arm_q() - self.rig.arm_target())) < self.tol and \
                    np.max(np.abs(self.rig.arm_dq())) < 1e-3:
                break

    def flange_pose(self) -> np.ndarray:
        return pose_to_T(*self.rig.ee_pose())

    def grab(self) -> np.ndarray:
        return self.rig.render()[0]


@dataclass
class SimReport:
    solutions: list[HandEyeSolution]
    truth: np.ndarray
    n_views: int
    n_used: int
    seconds: float
    errors: dict[str, tuple[float, float]] = field(default_factory=dict)  # method -> (mm, deg)

    @property
    def best(self) -> HandEyeSolution:
        return self.solutions[-1]


def run_sim_handeye(n_views: int = 20, image_size: tuple[int, int] = (640, 480), seed: int = 0,
                    out_dir: str | Path | None = None, guess_error: tuple[float, float] = (0.03, 3.0)
                    ) -> SimReport:
    """Capture and solve on the virtual rig; errors of every solver against `camera_pose()`."""
    t0 = time.monotonic()
    rig = BoardRig(image_size=image_size, seed=seed)
    try:
        robot = SimRobot(rig)
        intr = rig.camera_intrinsics()
        K = np.array([[intr["fx"], 0, intr["cx"]], [0, intr["fy"], intr["cy"]], [0, 0, 1.0]])
        dist = np.zeros(5)
        board = make_board(rig.board_spec)
        truth = pose_to_T(*rig.camera_pose())
        rng = np.random.default_rng(seed)

        # "Operator jogs the board in front of the camera": a camera pose guess off by cm / degrees.
        guess = truth @ make_T(Rotation.from_rotvec(_rand_dir(rng) * math.radians(guess_error[1])).as_matrix(),
                               _rand_dir(rng) * guess_error[0])
        Y_nominal = rig.true_flange_board() @ make_T(
            Rotation.from_rotvec(_rand_dir(rng) * math.radians(3.0)).as_matrix(), _rand_dir(rng) * 0.01)
        q_c = _centre_pose(guess, Y_nominal, board, K, image_size, rig.home_q)
        robot.move_joints(q_c)
        centre = sample_from_image(robot.grab(), robot.flange_pose(), board, K, dist)
        if centre is None:
            raise RuntimeError("sim hand-eye: board not detected at the centre pose")
        targets = plan_views(robot.joints(), robot.flange_pose(), centre.T_cam_board, Y_nominal, board, K,
                             image_size, n=n_views, seed=seed)
        meta = {"board": rig.board_spec.model_dump(), "image_size": list(image_size), "source": "virtual rig"}
        samples = capture_views(robot, targets, board, K, dist, out_dir=out_dir, meta=meta)
        sols = solve_eye_to_hand(samples, K, dist)
        errs = {s.method: pose_error(s.T_base_cam, truth) for s in sols if np.all(np.isfinite(s.T_base_cam))}
        return SimReport(sols, truth, len(targets), len(samples), time.monotonic() - t0, errs)
    finally:
        rig.close()


def _rand_dir(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def _centre_pose(T_base_cam: np.ndarray, Y: np.ndarray, board, K: np.ndarray, size: tuple[int, int],
                 q0: np.ndarray, depth: float = 0.75) -> np.ndarray:
    """Joint pose putting the board's centre on the optical axis at `depth`, facing the camera."""
    L = board.getSquareLength()
    sx, sy = board.getChessboardSize()
    c = np.array([sx * L / 2, sy * L / 2, 0.0])
    for d in (depth, 0.7, 0.8, 0.65, 0.85):
        T_cb = make_T(np.eye(3), np.array([0, 0, d]) - c)  # board axes = camera axes: faces the camera
        q, ok = ik(T_base_cam @ T_cb @ inv_T(Y), q0)
        if ok and visible(inv_T(T_base_cam) @ franka.dh_fk(q) @ Y, board, K, size):
            return q
    raise RuntimeError("sim hand-eye: no reachable centre pose with the board in view")
