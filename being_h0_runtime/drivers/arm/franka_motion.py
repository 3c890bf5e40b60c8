"""Pure franky builders: config -> franky objects, franky state -> ArmState, libfranka errors -> hints.

Nothing here talks to a robot. The builders run with the real franky package
and no arm attached, so tests check the exact motions the arm would receive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..base import ArmState, DriverError
from .franka_config import FR3_JOINT_VELOCITY_LIMITS, FrankaConfig

try:  # franky is an optional extra (`pip install .[franka]`)
    import franky
except ImportError:  # pragma: no cover - exercised only without the extra
    franky = None  # type: ignore[assignment]

_MODE_NAMES = {
    "Other": "other",
    "Idle": "idle",
    "Move": "move",
    "Guiding": "guiding",
    "Reflex": "reflex",
    "UserStopped": "user_stopped",
    "AutomaticErrorRecovery": "recovering",
}

# Hints keyed by substrings of libfranka error texts; first match wins.
_FAULT_HINTS: tuple[tuple[str, str], ...] = (
    ("communication_constraints_violation",
     ("the 1 kHz loop missed packets: use a PREEMPT_RT kernel, a direct Ethernet link (no switch), "
      "CPU governor 'performance', and nothing heavy on the control PC; then recover on operator request")),
    ("reflex", "a safety reflex stopped the arm (collision, limit or torque): clear the cause, then recover"),
    ("user_stopped", "the external activation device (user stop) is pressed: release it, then recover"),
    ("network", "the FCI link dropped: check the cable and that FCI is enabled in Desk, then reconnect"),
    ("tcp", "the FCI link dropped: check the cable and that FCI is enabled in Desk, then reconnect"),
)


def require_franky() -> Any:
    if franky is None:
        raise DriverError("franky is not installed: pip install 'being-h0-runtime[franka]' (franky-control)")
    return franky


def dynamics(factor: float, velocity: float | None = None, acceleration: float | None = None,
             jerk: float | None = None) -> franky.RelativeDynamicsFactor:
    """A franky RelativeDynamicsFactor; per-component overrides fall back to `factor`."""
    fr = require_franky()
    parts = [factor if p is None else p for p in (velocity, acceleration, jerk)]
    for name, p in zip(("velocity", "acceleration", "jerk"), parts):
        if not 0.0 < p <= 1.0:
            raise ValueError(f"relative dynamics {name} factor must be in (0, 1], got {p}")
    if parts[0] == parts[1] == parts[2]:
        return fr.RelativeDynamicsFactor(float(parts[0]))
    return fr.RelativeDynamicsFactor(*map(float, parts))


def config_dynamics(cfg: FrankaConfig) -> franky.RelativeDynamicsFactor:
    return dynamics(cfg.relative_dynamics_factor, cfg.velocity_factor, cfg.acceleration_factor, cfg.jerk_factor)


def _as_rows(a: np.ndarray | Sequence[float] | Sequence[Sequence[float]], width: int, what: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f"{what} must have shape ({width},) or (N, {width}), got {np.shape(a)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains NaN or inf")
    return arr


def build_joint_waypoint_motion(
    targets: np.ndarray | Sequence[Sequence[float]],
    velocities: np.ndarray | Sequence[Sequence[float]] | None = None,
    dynamics_factor: franky.RelativeDynamicsFactor | float = 1.0,
    *,
    velocity_limits: Sequence[float] | None = FR3_JOINT_VELOCITY_LIMITS,
    return_when_finished: bool = False,
    relative: bool = False,
) -> franky.JointWaypointMotion:
    """Joint targets (N, 7) [+ pass-through velocities (N, 7)] -> one franky motion.

    `return_when_finished=False` keeps the motion holding its last target so a
    late next command never lets the controller stop; the next motion preempts
    it. Velocities are clipped to `velocity_limits` scaled by the velocity
    dynamics factor, because Ruckig rejects target velocities above its limits.
    """
    fr = require_franky()
    q = _as_rows(targets, 7, "joint targets")
    if velocities is None:
        dq = np.zeros_like(q)
    else:
        dq = _as_rows(velocities, 7, "joint velocities")
        if dq.shape != q.shape:
            raise ValueError(f"velocities shape {dq.shape} does not match targets shape {q.shape}")
    rdf = dynamics_factor if not isinstance(dynamics_factor, (int, float)) else dynamics(float(dynamics_factor))
    if velocity_limits is not None:
        vmax = np.asarray(velocity_limits, dtype=np.float64) * float(rdf.velocity)
        dq = np.clip(dq, -vmax, vmax)
    ref = fr.ReferenceType.Relative if relative else fr.ReferenceType.Absolute
    waypoints = [fr.JointWaypoint(fr.JointState(q[i], dq[i]), ref) for i in range(q.shape[0])]
    return fr.JointWaypointMotion(waypoints, rdf, return_when_finished)


def build_cartesian_motion(
    positions: np.ndarray | Sequence[float] | Sequence[Sequence[float]],
    quaternions_xyzw: np.ndarray | Sequence[float] | Sequence[Sequence[float]],
    linear_velocities: np.ndarray | Sequence[float] | None = None,
    angular_velocities: np.ndarray | Sequence[float] | None = None,
    dynamics_factor: franky.RelativeDynamicsFactor | float = 1.0,
    *,
    return_when_finished: bool = False,
    relative: bool = False,
) -> franky.CartesianWaypointMotion:
    """End-effector poses (N, 3) + (N, 4 xyzw) [+ twists] -> a CartesianWaypointMotion in the base frame."""
    fr = require_franky()
    p = _as_rows(positions, 3, "positions")
    quat = _as_rows(quaternions_xyzw, 4, "quaternions (x, y, z, w)")
    if quat.shape[0] != p.shape[0]:
        raise ValueError(f"{p.shape[0]} positions but {quat.shape[0]} quaternions")
    norms = np.linalg.norm(quat, axis=1)
    if np.any(norms < 1e-6):
        raise ValueError("quaternion of zero length")
    quat = quat / norms[:, None]
    lin = np.zeros_like(p) if linear_velocities is None else _as_rows(linear_velocities, 3, "linear velocities")
    ang = np.zeros_like(p) if angular_velocities is None else _as_rows(angular_velocities, 3, "angular velocities")
    if lin.shape != p.shape or ang.shape != p.shape:
        raise ValueError("velocities must have one row per pose")
    rdf = dynamics_factor if not isinstance(dynamics_factor, (int, float)) else dynamics(float(dynamics_factor))
    ref = fr.ReferenceType.Relative if relative else fr.ReferenceType.Absolute
    waypoints = []
    for i in range(p.shape[0]):
        pose = fr.RobotPose(fr.Affine(p[i], quat[i]))
        vel = fr.RobotVelocity(fr.Twist(lin[i], ang[i]))
        waypoints.append(fr.CartesianWaypoint(fr.CartesianState(pose, vel), ref))
    return fr.CartesianWaypointMotion(waypoints, relative_dynamics_factor=rdf,
                                      return_when_finished=return_when_finished)


def build_home_motion(q: Sequence[float], speed_factor: float) -> franky.JointMotion:
    """A slow point-to-point move that ends at rest (reset-to-start between episodes)."""
    fr = require_franky()
    target = _as_rows(q, 7, "home joint positions")[0]
    return fr.JointMotion(fr.JointState(target), fr.ReferenceType.Absolute, dynamics(speed_factor), True)


def collision_behavior_args(cfg: FrankaConfig) -> tuple[list[float], list[float], list[float], list[float]]:
    """Arguments for Robot.set_collision_behavior(lower_tau, upper_tau, lower_f, upper_f)."""
    return (list(cfg.lower_torque_thresholds), list(cfg.upper_torque_thresholds),
            list(cfg.lower_force_thresholds), list(cfg.upper_force_thresholds))


def arm_state_from_franky(state: Any, stamp: float, fault: str | None = None) -> ArmState:
    """franky.RobotState -> ArmState (O_T_EE -> position + quaternion xyzw, O_F_ext_hat_K -> wrench)."""
    pose = state.O_T_EE
    mode_name = getattr(state.robot_mode, "name", str(state.robot_mode))
    mode = _MODE_NAMES.get(mode_name, mode_name.lower())
    if fault is None and mode in ("reflex", "user_stopped"):
        fault = mode
    return ArmState(
        stamp=stamp,
        q=np.asarray(state.q, dtype=np.float64).reshape(7).copy(),
        dq=np.asarray(state.dq, dtype=np.float64).reshape(7).copy(),
        tau=np.asarray(state.tau_J, dtype=np.float64).reshape(7).copy(),
        ee_position=np.asarray(pose.translation, dtype=np.float64).reshape(3).copy(),
        ee_orientation=np.asarray(pose.quaternion, dtype=np.float64).reshape(4).copy(),
        wrench=np.asarray(state.O_F_ext_hat_K, dtype=np.float64).reshape(6).copy(),
        mode="fault" if fault and mode not in ("reflex", "user_stopped") else mode,
        fault=fault,
    )


def fault_hint(message: str) -> str:
    low = message.lower()
    for key, hint in _FAULT_HINTS:
        if key in low:
            return hint
    return "inspect the robot in Desk, clear the cause, then recover on operator request"


def fault_kind(exc: BaseException) -> str:
    """A short class of a libfranka error, for diagnostics (`fault_kind`)."""
    low = (str(exc) or type(exc).__name__).lower()
    if "communication_constraints_violation" in low:
        return "communication_constraints_violation"
    if "reflex" in low:
        return "reflex"
    if franky is not None and isinstance(exc, franky.NetworkException):
        return "network"
    return type(exc).__name__
