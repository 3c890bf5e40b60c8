"""Retargeting, kept pure (no I/O, no clocks): the node feeds frames in, gets targets out.

Hand: keypoints -> angle features (handmodel) -> per-operator linear calibration
-> Inspire closures 0..1 -> One-Euro filter.  The calibration is three poses
the operator holds once (open hand, fist, pinch) and is stored in YAML::

    operator: alice
    dofs: [little, ring, middle, index, thumb_bend, thumb_rotation]
    open:  [0.05, 0.04, 0.06, 0.05, 0.10, 0.02]    # raw features (rad)
    fist:  [3.90, 3.95, 4.00, 3.80, 1.70, 0.40]
    pinch: [0.50, 0.45, 0.80, 2.10, 0.95, 1.30]

Fingers and thumb_bend map open -> 0 and fist -> 1; thumb_rotation maps
open -> 0 and pinch -> 1 (the pinch is what needs the thumb opposed).

Arm: a clutch.  While the clutch is held the robot's end effector follows the
operator's wrist *relative to where both were when the clutch closed*; on
release the robot holds, and the operator can move freely and re-engage
(re-centring, like lifting a mouse).  Joint targets come from an injected
``ik(position, quat_xyzw, q_seed) -> q`` (the virtual rig provides one) and
the anchor from ``fk(q) -> (position, quat_xyzw)``.  Quaternions are scipy's
(x, y, z, w) order; the rotation algebra is `scipy.spatial.transform.Rotation`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from scipy.spatial.transform import Rotation

from .filters import OneEuroFilter
from .handmodel import INSPIRE_DOFS, hand_features

IkFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
FkFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


# -- hand -----------------------------------------------------------------------------
class CalibrationError(ValueError):
    pass


@dataclass
class HandCalibration:
    operator: str
    open: np.ndarray
    fist: np.ndarray
    pinch: np.ndarray
    source: str = "<memory>"

    def __post_init__(self) -> None:
        for name in ("open", "fist", "pinch"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (6,) or not np.all(np.isfinite(arr)):
                raise CalibrationError(f"{self.source}: field {name!r} must be 6 finite numbers "
                                       f"({', '.join(INSPIRE_DOFS)}), got {getattr(self, name)!r}")
            setattr(self, name, arr)
        span = self.fist[:5] - self.open[:5]
        for i in np.flatnonzero(span < 0.2):
            raise CalibrationError(f"{self.source}: field 'fist' ({INSPIRE_DOFS[i]}) must exceed 'open' by "
                                   f">= 0.2 rad (got {span[i]:.3f}): was the fist pose held?")
        if self.pinch[5] - self.open[5] < 0.2:
            raise CalibrationError(f"{self.source}: field 'pinch' (thumb_rotation) must exceed 'open' by >= 0.2 "
                                   f"rad (got {self.pinch[5] - self.open[5]:.3f}): was the pinch pose held?")

    @classmethod
    def from_poses(cls, operator: str, open_kp: Sequence[np.ndarray], fist_kp: Sequence[np.ndarray],
                   pinch_kp: Sequence[np.ndarray]) -> HandCalibration:
        """From keypoint frames captured while the operator held each pose (medians, robust to glitches)."""
        med = lambda frames: np.median(np.stack([hand_features(k) for k in frames]), axis=0)
        return cls(operator, med(open_kp), med(fist_kp), med(pinch_kp))

    @classmethod
    def nominal(cls) -> HandCalibration:
        """The synthetic reference hand's calibration (a starting point before an operator calibrates)."""
        from .handmodel import FIST_POSE, OPEN_POSE, PINCH_POSE, SyntheticHand

        h = SyntheticHand()
        return cls.from_poses("nominal", [h.keypoints(OPEN_POSE)], [h.keypoints(FIST_POSE)], [h.keypoints(PINCH_POSE)])

    def closures(self, features: np.ndarray) -> np.ndarray:
        lo = self.open.copy()
        hi = self.fist.copy()
        hi[5] = self.pinch[5]
        return np.clip((features - lo) / (hi - lo), 0.0, 1.0)

    def save(self, path: Path) -> None:
        data = {"operator": self.operator, "dofs": list(INSPIRE_DOFS),
                "open": [round(float(x), 6) for x in self.open], "fist": [round(float(x), 6) for x in self.fist],
                "pinch": [round(float(x), 6) for x in self.pinch]}
        Path(path).write_text(yaml.safe_dump(data, sort_keys=False))

    @classmethod
    def load(cls, path: Path) -> HandCalibration:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as e:
            raise CalibrationError(f"{path}: cannot read calibration: {e}") from None
        if not isinstance(data, dict):
            raise CalibrationError(f"{path}: expected a mapping with operator, open, fist, pinch")
        missing = [k for k in ("operator", "open", "fist", "pinch") if k not in data]
        if missing:
            raise CalibrationError(f"{path}: missing field(s) {missing}")
        if data.get("dofs", list(INSPIRE_DOFS)) != list(INSPIRE_DOFS):
            raise CalibrationError(f"{path}: field 'dofs' must be {list(INSPIRE_DOFS)}")
        return cls(str(data["operator"]), data["open"], data["fist"], data["pinch"], source=str(path))


@dataclass
class HandRetargeter:
    calibration: HandCalibration
    min_cutoff: float = 1.5
    beta: float = 0.5
    _filter: OneEuroFilter = field(init=False)

    def __post_init__(self) -> None:
        self._filter = OneEuroFilter(self.min_cutoff, self.beta)

    def __call__(self, keypoints: np.ndarray, t: float | None = None) -> np.ndarray:
        """Inspire closures (INSPIRE_DOFS order, 0..1); filtered when a timestamp is given."""
        c = self.calibration.closures(hand_features(keypoints))
        return np.clip(self._filter(c, t), 0.0, 1.0) if t is not None else c


# -- arm --------------------------------------------------------------------------------
@dataclass
class ArmRetargeter:
    """Clutch-based relative wrist -> end-effector mapping, then IK to joint targets.

    `R_op_to_robot` rotates operator-frame displacements into the robot base
    frame (identity when the tracker is aligned with the robot); `scale`
    multiplies translations (0.5 = fine work).
    """

    ik: IkFn
    fk: FkFn
    q_home: np.ndarray
    scale: float = 1.0
    R_op_to_robot: np.ndarray = field(default_factory=lambda: np.eye(3))
    min_cutoff: float = 1.0
    beta: float = 2.0
    max_step_m: float = 0.10  # a single frame may not move the target further (tracking glitch guard)

    def __post_init__(self) -> None:
        self.q_target = np.asarray(self.q_home, dtype=float).copy()
        self.engaged = False
        self._op0: tuple[np.ndarray, np.ndarray] | None = None
        self._ee0: tuple[np.ndarray, np.ndarray] | None = None
        self._last_pos: np.ndarray | None = None
        self._pos_filter = OneEuroFilter(self.min_cutoff, self.beta)
        self._quat_filter = OneEuroFilter(self.min_cutoff, self.beta)
        self._q_ref = np.array([0.0, 0.0, 0.0, 1.0])

    def reset(self, q: np.ndarray) -> None:
        self.q_target = np.asarray(q, dtype=float).copy()
        self.engaged = False

    def __call__(self, wrist_pos: np.ndarray, wrist_quat: np.ndarray, clutch: bool, t: float | None = None,
                 q_measured: np.ndarray | None = None) -> np.ndarray:
        """Joint targets (7,).  `q_measured` anchors a fresh engagement at the robot's actual pose."""
        if not clutch:
            self.engaged = False
            return self.q_target.copy()
        p = np.asarray(wrist_pos, dtype=float)
        q = np.asarray(wrist_quat, dtype=float)
        if np.dot(q, self._q_ref) < 0:  # keep the quaternion on one hemisphere so filtering is continuous
            q = -q
        self._q_ref = q
        if not self.engaged:
            self.engaged = True
            anchor_q = self.q_target if q_measured is None else np.asarray(q_measured, dtype=float)
            self.q_target = anchor_q.copy()
            self._ee0 = self.fk(anchor_q)
            self._pos_filter.reset()
            self._quat_filter.reset()
            self._op0 = (p.copy(), q.copy())
            self._last_pos = None
        if t is not None:
            p = self._pos_filter(p, t)
            q = self._quat_filter(q, t)
            q = q / np.linalg.norm(q)
        assert self._op0 is not None and self._ee0 is not None
        p0, q0 = self._op0
        e_pos, e_quat = self._ee0
        R = self.R_op_to_robot
        pos = e_pos + self.scale * (R @ (p - p0))
        if self._last_pos is not None:
            step = pos - self._last_pos
            n = float(np.linalg.norm(step))
            if n > self.max_step_m:
                pos = self._last_pos + step * (self.max_step_m / n)
        self._last_pos = pos
        d_op = Rotation.from_quat(q) * Rotation.from_quat(q0).inv()  # operator rotation since engagement
        op_to_robot = Rotation.from_matrix(R)
        d_robot = op_to_robot * d_op * op_to_robot.inv()  # the same rotation, expressed in the robot frame
        quat = (d_robot * Rotation.from_quat(e_quat)).as_quat()
        self.q_target = np.asarray(self.ik(pos, quat, self.q_target), dtype=float)
        return self.q_target.copy()


#: skip scipy's re-orthogonalisation of matrices that are rotations by construction (forward kinematics: a
#: product of exact rotations); it is most of from_matrix's cost, and the IK calls it every iteration.
#: (`assume_valid` is in recent scipy only; older ones always orthogonalise, with the same result here.)
_VALID = {"assume_valid": True} if "assume_valid" in inspect.signature(Rotation.from_matrix).parameters else {}


def dls_ik(fk_T: Callable[[np.ndarray], np.ndarray], q_min: np.ndarray | None = None,
           q_max: np.ndarray | None = None, iters: int = 50, damping: float = 0.02) -> IkFn:
    """A generic damped-least-squares IK over any forward kinematics `fk_T(q) -> 4x4 flange pose`
    (numerical Jacobian); for rigs without an analytic one."""

    def pose_errors(qs: np.ndarray, pos: np.ndarray, target: Rotation) -> np.ndarray:
        """(k, 6) errors for k joint vectors: position, and twice the vector part of the rotation still to go."""
        T = np.stack([fk_T(q) for q in qs])
        to_go = (target * Rotation.from_matrix(T[:, :3, :3], **_VALID).inv()).as_quat(canonical=True)  # w >= 0
        return np.c_[pos - T[:, :3, 3], 2.0 * to_go[:, :3]]

    def ik(pos: np.ndarray, quat: np.ndarray, q_seed: np.ndarray) -> np.ndarray:
        q = np.asarray(q_seed, dtype=float).copy()
        target = Rotation.from_quat(quat)
        for _ in range(iters):
            e = pose_errors(q[None], pos, target)[0]
            if np.linalg.norm(e[:3]) < 1e-4 and np.linalg.norm(e[3:]) < 1e-3:
                break
            J = (e[:, None] - pose_errors(q + 1e-6 * np.eye(q.size), pos, target).T) / 1e-6  # one column per joint
            step = J.T @ np.linalg.solve(J @ J.T + damping**2 * np.eye(6), e)
            n = np.linalg.norm(step)
            if n > 0.3:
                step *= 0.3 / n
            q = q + step
            if q_min is not None and q_max is not None:
                q = np.clip(q, q_min, q_max)
        return q

    return ik


def franka_kinematics() -> tuple[IkFn, FkFn]:
    """(ik, fk) for the Franka from its DH table (no MuJoCo needed); the virtual rig may inject its own."""
    from ..rig import franka

    def fk(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        T = franka.dh_fk(q)
        return T[:3, 3].copy(), Rotation.from_matrix(T[:3, :3], **_VALID).as_quat()

    return dls_ik(franka.dh_fk, franka.Q_MIN, franka.Q_MAX), fk
