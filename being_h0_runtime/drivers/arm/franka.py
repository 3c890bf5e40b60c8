"""Franka arm backend over franky (libfranka + Ruckig).

Why this shape:

* Everything that *builds* franky objects is a pure function
  (:func:`dynamics`, :func:`build_joint_waypoint_motion`,
  :func:`build_cartesian_motion`, :func:`build_home_motion`). Those run with
  the real franky package and no robot, so tests check the exact motions the
  arm would receive.
* The live link is reached only through :class:`FrankyConnection`, a protocol
  that a ``franky.Robot`` satisfies as is. Tests swap in a recorder of *only*
  that link to inject faults.
* Streaming: the node calls :meth:`FrankaArm.write` at its own pace; a sender
  thread forwards the newest target at ``control_rate_hz`` as a
  one-waypoint ``JointWaypointMotion`` started with
  ``robot.move(motion, asynchronous=True)``. franky lets a new motion take over
  the running one seamlessly, and because each waypoint carries a target
  *velocity* Ruckig passes through it instead of stopping there, so chunk
  boundaries do not produce stop-and-go.
* Faults (reflexes, ``communication_constraints_violation``, lost link) are
  latched: motion is dropped, diagnostics say what happened and how to fix it,
  and only :meth:`FrankaArm.recover` (operator request) clears them. A recovered
  arm does not resume the target it had before the fault.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable, Protocol, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ...netguard import check_destination
from ...rig.franka import DQ_MAX
from ...rig.franka import READY_Q as DEFAULT_HOME_Q  # the home a config leaves out
from ..base import ArmCommand, ArmDriver, ArmState, Diagnostic, DriverError

try:  # franky is an optional extra (`pip install .[franka]`)
    import franky
except ImportError:  # pragma: no cover - exercised only without the extra
    franky = None  # type: ignore[assignment]

#: libfranka's command port; a TCP probe there tells "nothing at that address" apart quickly.
FCI_COMMAND_PORT = 1337

#: Franka Research 3 joint velocity limits (rad/s), datasheet values; used before a robot reports its own.
FR3_JOINT_VELOCITY_LIMITS = tuple(DQ_MAX.tolist())

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
     "the 1 kHz loop missed packets: use a PREEMPT_RT kernel, a direct Ethernet link (no switch), "
     "CPU governor 'performance', and nothing heavy on the control PC; then recover on operator request"),
    ("reflex", "a safety reflex stopped the arm (collision, limit or torque): clear the cause, then recover"),
    ("user_stopped", "the external activation device (user stop) is pressed: release it, then recover"),
    ("network", "the FCI link dropped: check the cable and that FCI is enabled in Desk, then reconnect"),
    ("tcp", "the FCI link dropped: check the cable and that FCI is enabled in Desk, then reconnect"),
)


class FrankaConfig(BaseModel):
    """Validated settings of one Franka arm (maps 1:1 onto the launch profile's `arm:` block)."""

    model_config = ConfigDict(extra="forbid")

    ip: str = Field(description="FCI hostname or IP of the robot's control box")
    control_rate_hz: float = Field(50.0, ge=30.0, le=1000.0,
                                   description="rate at which targets are streamed to franky")
    relative_dynamics_factor: float = Field(0.2, gt=0.0, le=1.0,
                                            description="global scale of velocity, acceleration and jerk limits")
    velocity_factor: float | None = Field(None, gt=0.0, le=1.0, description="overrides the velocity part")
    acceleration_factor: float | None = Field(None, gt=0.0, le=1.0, description="overrides the acceleration part")
    jerk_factor: float | None = Field(None, gt=0.0, le=1.0, description="overrides the jerk part")
    # Collision behaviour (libfranka setCollisionBehavior, lower/upper thresholds).
    lower_torque_thresholds: list[float] = Field(default_factory=lambda: [20.0] * 7)
    upper_torque_thresholds: list[float] = Field(default_factory=lambda: [40.0] * 7)
    lower_force_thresholds: list[float] = Field(default_factory=lambda: [20.0] * 6)
    upper_force_thresholds: list[float] = Field(default_factory=lambda: [40.0] * 6)
    joint_impedance: list[float] | None = Field(
        default_factory=lambda: [3000.0, 3000.0, 3000.0, 2500.0, 2500.0, 2000.0, 2000.0],
        description="K_theta per joint in [0, 14250] Nm/rad; None leaves the controller default")
    cartesian_impedance: list[float] | None = Field(
        None, description="K_x (x, y, z in [10, 3000] N/m; R, P, Y in [1, 300] Nm/rad); None leaves the default")
    realtime: bool = Field(True, description="require a real-time kernel (False only for bench tests)")
    connect_timeout_s: float = Field(3.0, gt=0.0, description="deadline for reaching the FCI")
    probe_before_connect: bool = Field(True, description="TCP-probe the FCI port before libfranka connects")
    home_q: list[float] = Field(default_factory=lambda: list(DEFAULT_HOME_Q))
    home_speed_factor: float = Field(0.1, gt=0.0, le=1.0)
    infer_velocity: bool = Field(
        False, description="when a command has no velocity, derive it from the previous target "
                           "(finite difference at control_rate_hz) instead of arriving at rest")

    @field_validator("lower_torque_thresholds", "upper_torque_thresholds", "home_q")
    @classmethod
    def _seven(cls, v: list[float]) -> list[float]:
        if len(v) != 7:
            raise ValueError(f"needs 7 values (one per joint), got {len(v)}")
        return v

    @field_validator("lower_force_thresholds", "upper_force_thresholds")
    @classmethod
    def _six(cls, v: list[float]) -> list[float]:
        if len(v) != 6:
            raise ValueError(f"needs 6 values (x, y, z, R, P, Y), got {len(v)}")
        return v

    @field_validator("joint_impedance")
    @classmethod
    def _joint_k(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (len(v) != 7 or not all(0.0 <= k <= 14250.0 for k in v)):
            raise ValueError("needs 7 values in [0, 14250] Nm/rad")
        return v

    @field_validator("cartesian_impedance")
    @classmethod
    def _cart_k(cls, v: list[float] | None) -> list[float] | None:
        if v is None:
            return v
        if len(v) != 6 or not all(10 <= k <= 3000 for k in v[:3]) or not all(1 <= k <= 300 for k in v[3:]):
            raise ValueError("needs 6 values: x, y, z in [10, 3000] N/m and R, P, Y in [1, 300] Nm/rad")
        return v

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> "FrankaConfig":
        for lo, hi, name in ((self.lower_torque_thresholds, self.upper_torque_thresholds, "torque"),
                             (self.lower_force_thresholds, self.upper_force_thresholds, "force")):
            if any(a > b for a, b in zip(lo, hi)):
                raise ValueError(f"lower_{name}_thresholds must not exceed upper_{name}_thresholds")
        return self


# ----------------------------------------------------------------------------- pure franky builders


def _require_franky() -> Any:
    if franky is None:
        raise DriverError("franky is not installed: pip install 'being-h0-runtime[franka]' (franky-control)")
    return franky


def dynamics(factor: float, velocity: float | None = None, acceleration: float | None = None,
             jerk: float | None = None) -> "franky.RelativeDynamicsFactor":
    """A franky RelativeDynamicsFactor; per-component overrides fall back to `factor`."""
    fr = _require_franky()
    parts = [factor if p is None else p for p in (velocity, acceleration, jerk)]
    for name, p in zip(("velocity", "acceleration", "jerk"), parts):
        if not 0.0 < p <= 1.0:
            raise ValueError(f"relative dynamics {name} factor must be in (0, 1], got {p}")
    if parts[0] == parts[1] == parts[2]:
        return fr.RelativeDynamicsFactor(float(parts[0]))
    return fr.RelativeDynamicsFactor(*map(float, parts))


def config_dynamics(cfg: FrankaConfig) -> "franky.RelativeDynamicsFactor":
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
    dynamics_factor: "franky.RelativeDynamicsFactor | float" = 1.0,
    *,
    velocity_limits: Sequence[float] | None = FR3_JOINT_VELOCITY_LIMITS,
    return_when_finished: bool = False,
    relative: bool = False,
) -> "franky.JointWaypointMotion":
    """Joint targets (N, 7) [+ pass-through velocities (N, 7)] -> one franky motion.

    `return_when_finished=False` keeps the motion holding its last target so a
    late next command never lets the controller stop; the next motion preempts
    it. Velocities are clipped to `velocity_limits` scaled by the velocity
    dynamics factor, because Ruckig rejects target velocities above its limits.
    """
    fr = _require_franky()
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
    dynamics_factor: "franky.RelativeDynamicsFactor | float" = 1.0,
    *,
    return_when_finished: bool = False,
    relative: bool = False,
) -> "franky.CartesianWaypointMotion":
    """End-effector poses (N, 3) + (N, 4 xyzw) [+ twists] -> a CartesianWaypointMotion in the base frame."""
    fr = _require_franky()
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


def build_home_motion(q: Sequence[float], speed_factor: float) -> "franky.JointMotion":
    """A slow point-to-point move that ends at rest (reset-to-start between episodes)."""
    fr = _require_franky()
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


# ----------------------------------------------------------------------------- the live link


class FrankyConnection(Protocol):
    """The slice of ``franky.Robot`` this driver uses; a real Robot satisfies it unchanged."""

    @property
    def state(self) -> Any: ...

    def move(self, motion: Any, asynchronous: bool = False) -> None: ...

    def poll_motion(self) -> bool: ...

    def join_motion(self, timeout: float | None = None) -> bool: ...

    def stop(self) -> None: ...

    def recover_from_errors(self) -> bool: ...

    def set_collision_behavior(self, *args: Any) -> None: ...

    def set_joint_impedance(self, k: Sequence[float]) -> None: ...

    def set_cartesian_impedance(self, k: Sequence[float]) -> None: ...


def probe_fci(ip: str, timeout_s: float) -> None:
    """Raise DriverError unless something accepts TCP on the FCI command port within `timeout_s`."""
    check_destination(ip, FCI_COMMAND_PORT, "Franka FCI probe")
    try:
        with socket.create_connection((ip, FCI_COMMAND_PORT), timeout=timeout_s):
            pass
    except OSError as exc:
        raise DriverError(
            f"Franka at {ip!r} is unreachable (TCP port {FCI_COMMAND_PORT}: {exc}). Fix: check the Ethernet "
            f"cable to the control box, the PC's static IP on that subnet, that the brakes are open and "
            f"FCI is enabled in Desk; `being-h0 doctor` runs this check."
        ) from exc


def connect_franky(cfg: FrankaConfig) -> FrankyConnection:
    """Open a franky.Robot within `cfg.connect_timeout_s`, translating libfranka errors into DriverError.

    libfranka can block for a minute when a host accepts TCP but does not speak
    FCI, so the constructor runs on a helper thread with a deadline.
    """
    check_destination(cfg.ip, FCI_COMMAND_PORT, "libfranka connect")  # libfranka's C++ sockets bypass Python guards
    fr = _require_franky()
    if cfg.probe_before_connect:
        probe_fci(cfg.ip, cfg.connect_timeout_s)
    box: dict[str, Any] = {}
    rt = fr.RealtimeConfig.Enforce if cfg.realtime else fr.RealtimeConfig.Ignore

    def _open() -> None:
        try:
            box["robot"] = fr.Robot(cfg.ip, relative_dynamics_factor=config_dynamics(cfg), realtime_config=rt)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc

    t = threading.Thread(target=_open, name=f"franky-connect-{cfg.ip}", daemon=True)
    t.start()
    t.join(cfg.connect_timeout_s)
    if t.is_alive():
        raise DriverError(f"Franka at {cfg.ip!r} did not answer the FCI handshake within "
                          f"{cfg.connect_timeout_s:.1f} s. Fix: is this the control box IP (not the arm base "
                          f"Desk IP) and is FCI enabled in Desk?")
    exc = box.get("error")
    if exc is not None:
        why = str(exc).rstrip(". ")
        if isinstance(exc, fr.RealtimeException):
            raise DriverError(f"Franka {cfg.ip!r}: {why}. Fix: boot a PREEMPT_RT kernel (see `being-h0 doctor`), "
                              f"or set nodes.arm.params.options.realtime: false in the launch profile "
                              f"(bench tests only).") from exc
        if isinstance(exc, fr.IncompatibleVersionException):
            raise DriverError(f"Franka {cfg.ip!r}: {why}. Fix: install the franky/libfranka build matching "
                              f"the robot system version.") from exc
        if isinstance(exc, fr.NetworkException):
            raise DriverError(f"Franka {cfg.ip!r} unreachable: {why}. Fix: check cable, IP and that FCI is "
                              f"enabled in Desk.") from exc
        raise DriverError(f"Franka {cfg.ip!r}: could not connect: {exc!r}") from exc
    return box["robot"]


def apply_settings(conn: FrankyConnection, cfg: FrankaConfig) -> None:
    """Collision thresholds and impedances from config (each call may raise franky.CommandException)."""
    conn.set_collision_behavior(*collision_behavior_args(cfg))
    if cfg.joint_impedance is not None:
        conn.set_joint_impedance(list(cfg.joint_impedance))
    if cfg.cartesian_impedance is not None:
        conn.set_cartesian_impedance(list(cfg.cartesian_impedance))


# ----------------------------------------------------------------------------- the driver


class FrankaArm(ArmDriver):
    """ArmDriver for a Franka Research 3 / Panda through franky."""

    def __init__(self, config: FrankaConfig | dict[str, Any],
                 connection_factory: Callable[[FrankaConfig], FrankyConnection] = connect_franky,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config if isinstance(config, FrankaConfig) else FrankaConfig.model_validate(config)
        self._factory = connection_factory
        self._clock = clock
        self._conn: FrankyConnection | None = None
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: Any = None  # newest motion not yet handed to franky
        self._pending_kind: str | None = None
        self._active = False
        self._fault: str | None = None
        self._fault_kind: str | None = None
        self._dropped_writes = 0
        self._sent = 0
        self._last_q: np.ndarray | None = None
        self._last_state: ArmState | None = None
        self._mode_kind: str | None = None  # "joint" | "cartesian" control signal of the running motion
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._rdf = None

    # -- lifecycle

    def configure(self) -> None:
        if self._conn is not None:
            return
        conn = self._factory(self.config)
        try:
            apply_settings(conn, self.config)
        except Exception as exc:  # franky.CommandException / NetworkException
            raise DriverError(f"Franka {self.config.ip!r}: rejected collision/impedance settings: {exc}") from exc
        self._conn = conn
        self._rdf = config_dynamics(self.config)
        self._vel_limits = self._velocity_limits(conn)

    def activate(self) -> None:
        if self._conn is None:
            raise DriverError("FrankaArm.activate() before configure()")
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._stream_loop, name="franka-stream", daemon=True)
            self._thread.start()
        self._active = True

    def deactivate(self) -> None:
        self.hold()
        self._active = False

    def close(self) -> None:
        self._active = False
        self._stop.set()
        with self._wake:
            self._pending = None
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        self._conn = None

    # -- state

    def read(self) -> ArmState:
        conn = self._require_conn()
        try:
            conn.poll_motion()  # re-raises what ended an asynchronous motion
        except Exception as exc:  # noqa: BLE001 - every franky error becomes a latched fault
            self._latch_fault(exc)
        try:
            st = conn.state
        except Exception as exc:  # noqa: BLE001
            self._latch_fault(exc)
            if self._last_state is None:
                raise DriverError(f"Franka {self.config.ip!r}: no state: {exc}") from exc
            last = self._last_state
            last.fault, last.mode = self._fault, "fault"
            return last
        state = arm_state_from_franky(st, self._clock(), self._fault)
        if self._fault is None and state.fault is not None:
            self._latch_fault(RuntimeError(f"robot mode {state.fault}"), kind=state.fault)
            state.fault = self._fault
        self._last_state = state
        return state

    # -- commands

    def write(self, command: ArmCommand) -> None:
        """Queue a joint target; the sender thread streams the newest one at control_rate_hz."""
        q = np.asarray(command.q, dtype=np.float64).reshape(-1)
        if q.shape != (7,):
            raise ValueError(f"ArmCommand.q must have 7 joints, got shape {np.shape(command.q)}")
        vel = command.velocity
        if vel is None and self.config.infer_velocity and self._last_q is not None:
            vel = (q - self._last_q) * self.config.control_rate_hz
        self._last_q = q
        motion = build_joint_waypoint_motion(q, None if vel is None else np.asarray(vel).reshape(1, 7),
                                             self._rdf_or_default(), velocity_limits=self._vel_limits_or_default())
        self._queue(motion, "joint")

    def write_cartesian(self, position: Sequence[float], quat_xyzw: Sequence[float],
                        linear_velocity: Sequence[float] | None = None,
                        angular_velocity: Sequence[float] | None = None) -> None:
        """Queue an end-effector pose target (base frame, quaternion x, y, z, w)."""
        motion = build_cartesian_motion(position, quat_xyzw, linear_velocity, angular_velocity,
                                        self._rdf_or_default())
        self._queue(motion, "cartesian")

    def hold(self) -> None:
        """Drop queued targets and decelerate to rest with franky's stop motion."""
        with self._wake:
            self._pending = None
            self._pending_kind = None
        conn = self._conn
        if conn is None or self._fault is not None:
            return  # after a fault libfranka has already stopped the arm
        fr = _require_franky()
        stop = fr.CartesianStopMotion() if self._mode_kind == "cartesian" else fr.JointStopMotion()
        try:
            conn.move(stop, asynchronous=True)
        except Exception as exc:  # noqa: BLE001
            self._latch_fault(exc)

    def move_home(self, q: Sequence[float] | None = None, speed_factor: float | None = None,
                  timeout_s: float = 60.0) -> bool:
        """Move to `q` (default config.home_q) and wait; returns True at rest, False on fault/timeout."""
        conn = self._require_conn()
        if self._fault is not None:
            raise DriverError(f"Franka in fault ({self._fault}); recover() on operator request before homing")
        motion = build_home_motion(self.config.home_q if q is None else q,
                                   self.config.home_speed_factor if speed_factor is None else speed_factor)
        with self._wake:
            self._pending = None
        try:
            conn.move(motion, asynchronous=True)
            self._mode_kind = "joint"
            done = conn.join_motion(timeout_s)
        except Exception as exc:  # noqa: BLE001
            self._latch_fault(exc)
            return False
        return bool(done)

    def recover(self) -> None:
        """Operator-requested recovery (libfranka automatic error recovery); never resumes old targets."""
        conn = self._require_conn()
        with self._wake:
            self._pending = None
        self._last_q = None
        try:
            ok = conn.recover_from_errors()
        except Exception as exc:  # noqa: BLE001
            raise DriverError(f"Franka recovery failed: {exc}. Fix: {fault_hint(str(exc))}") from exc
        if not ok:
            raise DriverError(f"Franka recovery failed (fault was: {self._fault}); "
                              f"check Desk and the user stop, then try again")
        self._fault = None
        self._fault_kind = None
        self._mode_kind = None

    def diagnostics(self) -> list[Diagnostic]:
        name = f"arm/franka {self.config.ip}"
        values = {"sent_motions": str(self._sent), "dropped_writes": str(self._dropped_writes),
                  "control_rate_hz": f"{self.config.control_rate_hz:g}"}
        if self._conn is None:
            return [Diagnostic(Diagnostic.STALE, name, "not connected", values)]
        if self._fault is not None:
            values["fault_kind"] = self._fault_kind or "unknown"
            values["fix"] = fault_hint(self._fault)
            return [Diagnostic(Diagnostic.ERROR, name, f"fault: {self._fault}", values)]
        return [Diagnostic(Diagnostic.OK, name, "streaming" if self._active else "connected", values)]

    @property
    def fault(self) -> str | None:
        return self._fault

    # -- internals

    def _require_conn(self) -> FrankyConnection:
        if self._conn is None:
            raise DriverError("FrankaArm used before configure()")
        return self._conn

    def _rdf_or_default(self) -> Any:
        return self._rdf if self._rdf is not None else config_dynamics(self.config)

    def _vel_limits_or_default(self) -> Sequence[float]:
        return getattr(self, "_vel_limits", FR3_JOINT_VELOCITY_LIMITS)

    @staticmethod
    def _velocity_limits(conn: Any) -> Sequence[float]:
        lim = getattr(conn, "joint_velocity_limit", None)
        try:
            arr = np.asarray(lim, dtype=np.float64).reshape(7)
            if np.all(arr > 0):
                return tuple(arr)
        except (TypeError, ValueError):
            pass
        return FR3_JOINT_VELOCITY_LIMITS

    def _queue(self, motion: Any, kind: str) -> None:
        if self._conn is None or not self._active:
            raise DriverError("FrankaArm.write() before configure()/activate()")
        if self._fault is not None:
            self._dropped_writes += 1  # never move after a fault until an operator recovers
            return
        with self._wake:
            self._pending = motion
            self._pending_kind = kind
            self._wake.notify()

    def _stream_loop(self) -> None:
        period = 1.0 / self.config.control_rate_hz
        next_t = time.monotonic()
        while not self._stop.is_set():
            with self._wake:
                while self._pending is None and not self._stop.is_set():
                    self._wake.wait(timeout=0.1)
                if self._stop.is_set():
                    return
                motion, kind = self._pending, self._pending_kind
                self._pending = None
            now = time.monotonic()
            if now < next_t:  # coalesce: targets arriving faster than the rate wait for the next tick
                time.sleep(next_t - now)
                with self._wake:  # a newer target may have arrived meanwhile
                    if self._pending is not None:
                        motion, kind = self._pending, self._pending_kind
                        self._pending = None
            next_t = max(next_t + period, time.monotonic())
            self._send(motion, kind)

    def _send(self, motion: Any, kind: str | None) -> None:
        conn = self._conn
        if conn is None or self._fault is not None:
            return
        if self._mode_kind is not None and kind != self._mode_kind:
            # franky forbids changing the control signal type while moving: stop first.
            try:
                conn.move(_require_franky().JointStopMotion() if self._mode_kind == "joint"
                          else _require_franky().CartesianStopMotion(), asynchronous=False)
            except Exception as exc:  # noqa: BLE001
                self._latch_fault(exc)
                return
        try:
            conn.move(motion, asynchronous=True)
            self._mode_kind = kind
            self._sent += 1
        except Exception as exc:  # noqa: BLE001
            self._latch_fault(exc)

    def _latch_fault(self, exc: BaseException, kind: str | None = None) -> None:
        msg = str(exc) or type(exc).__name__
        with self._wake:
            self._pending = None
        if self._fault is not None:
            return  # keep the first cause; later errors are consequences
        self._fault = msg
        if kind is None:
            low = msg.lower()
            kind = ("communication_constraints_violation" if "communication_constraints_violation" in low
                    else "reflex" if "reflex" in low
                    else "network" if franky is not None and isinstance(exc, franky.NetworkException)
                    else type(exc).__name__)
        self._fault_kind = kind
        self._mode_kind = None
