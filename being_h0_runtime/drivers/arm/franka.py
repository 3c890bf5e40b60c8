"""Franka arm backend over franky (libfranka + Ruckig).

Why this shape (one file per job):

* ``franka_config`` - the validated settings (no franky needed to check a profile).
* ``franka_motion`` - everything that *builds* franky objects is a pure function
  (``dynamics``, ``build_joint_waypoint_motion``, ``build_cartesian_motion``,
  ``build_home_motion``). Those run with the real franky package and no robot,
  so tests check the exact motions the arm would receive.
* ``franka_link`` - the live link is reached only through ``FrankyConnection``,
  a protocol that a ``franky.Robot`` satisfies as is. Tests swap in a recorder
  of *only* that link to inject faults.
* this module - the driver: lifecycle steps, streaming, fault latching.
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

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..base import (
    ArmCommand,
    ArmDriver,
    ArmState,
    Diagnostic,
    DriverError,
    LifecycleState,
)
from ..loop import DriverLoop
from .franka_config import FR3_JOINT_VELOCITY_LIMITS, FrankaConfig
from .franka_link import FrankyConnection, apply_settings, connect_franky
from .franka_motion import (
    arm_state_from_franky,
    build_cartesian_motion,
    build_home_motion,
    build_joint_waypoint_motion,
    config_dynamics,
    fault_hint,
    fault_kind,
    require_franky,
)


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
        self._fault: str | None = None
        self._fault_kind: str | None = None
        self._dropped_writes = 0
        self._sent = 0
        self._last_q: np.ndarray | None = None
        self._last_state: ArmState | None = None
        self._mode_kind: str | None = None  # "joint" | "cartesian" control signal of the running motion
        self._stream = DriverLoop(self._stream_loop, "franka-stream", self._wake, join_timeout_s=2.0)
        self._rdf: Any = None  # franky.RelativeDynamicsFactor of the config, built by configure()
        self._vel_limits: Sequence[float] = FR3_JOINT_VELOCITY_LIMITS

    @property
    def driver_name(self) -> str:
        return f"FrankaArm {self.config.ip}"

    # -- lifecycle steps (the order is enforced by ArmDriver)

    def _on_configure(self) -> None:
        conn = self._factory(self.config)
        try:
            apply_settings(conn, self.config)
        except Exception as exc:  # franky.CommandException / NetworkException
            raise DriverError(f"Franka {self.config.ip!r}: rejected collision/impedance settings: {exc}") from exc
        self._conn = conn
        self._rdf = config_dynamics(self.config)
        self._vel_limits = self._velocity_limits(conn)

    def _on_activate(self) -> None:
        self._stream.start()

    def _on_close(self) -> None:
        with self._wake:
            self._pending = None
        self._stream.stop()
        self._conn = None

    # -- state

    def _read_state(self) -> ArmState:
        conn = self._require_conn()
        try:
            conn.poll_motion()  # re-raises what ended an asynchronous motion
        except Exception as exc:  # noqa: BLE001 - every franky error becomes a latched fault
            self._latch_fault(exc)
        try:
            st = conn.state
        except Exception as exc:
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

    def _write_command(self, command: ArmCommand) -> None:
        """Queue a joint target; the sender thread streams the newest one at control_rate_hz."""
        q = np.asarray(command.q, dtype=np.float64).reshape(-1)
        if q.shape != (7,):
            raise ValueError(f"ArmCommand.q must have 7 joints, got shape {np.shape(command.q)}")
        vel = command.velocity
        if vel is None and self.config.infer_velocity and self._last_q is not None:
            vel = (q - self._last_q) * self.config.control_rate_hz
        self._last_q = q
        motion = build_joint_waypoint_motion(q, None if vel is None else np.asarray(vel).reshape(1, 7),
                                             self._rdf, velocity_limits=self._vel_limits)
        self._queue(motion, "joint")

    def write_cartesian(self, position: Sequence[float], quat_xyzw: Sequence[float],
                        linear_velocity: Sequence[float] | None = None,
                        angular_velocity: Sequence[float] | None = None) -> None:
        """Queue an end-effector pose target (base frame, quaternion x, y, z, w)."""
        self._require("write_cartesian", LifecycleState.ACTIVE)
        motion = build_cartesian_motion(position, quat_xyzw, linear_velocity, angular_velocity, self._rdf)
        self._queue(motion, "cartesian")

    def _hold_position(self) -> None:
        """Drop queued targets and decelerate to rest with franky's stop motion."""
        with self._wake:
            self._pending = None
            self._pending_kind = None
        conn = self._conn
        if conn is None or self._fault is not None:
            return  # after a fault libfranka has already stopped the arm
        fr = require_franky()
        stop = fr.CartesianStopMotion() if self._mode_kind == "cartesian" else fr.JointStopMotion()
        try:
            conn.move(stop, asynchronous=True)
        except Exception as exc:  # noqa: BLE001
            self._latch_fault(exc)

    def move_home(self, q: Sequence[float] | None = None, speed_factor: float | None = None,
                  timeout_s: float = 60.0) -> bool:
        """Move to `q` (default config.home_q) and wait; returns True at rest, False on fault/timeout."""
        self._require("move_home", LifecycleState.ACTIVE)  # it moves the arm: only while motion is enabled
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

    def _recover_fault(self) -> None:
        """Operator-requested recovery (libfranka automatic error recovery); never resumes old targets."""
        conn = self._require_conn()
        with self._wake:
            self._pending = None
        self._last_q = None
        try:
            ok = conn.recover_from_errors()
        except Exception as exc:
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
        return [Diagnostic(Diagnostic.OK, name, "streaming" if self.is_active else "connected", values)]

    @property
    def fault(self) -> str | None:
        return self._fault

    # -- internals

    def _require_conn(self) -> FrankyConnection:
        if self._conn is None:  # the lifecycle checks make this unreachable; a clear error if it is not
            raise DriverError(f"{self.driver_name} has no connection ({self.lifecycle_state.value})")
        return self._conn

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
        while not self._stream.stopping.is_set():
            with self._wake:
                while self._pending is None and not self._stream.stopping.is_set():
                    self._wake.wait(timeout=0.1)
                if self._stream.stopping.is_set():
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
                conn.move(require_franky().JointStopMotion() if self._mode_kind == "joint"
                          else require_franky().CartesianStopMotion(), asynchronous=False)
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
        self._fault_kind = kind if kind is not None else fault_kind(exc)
        self._mode_kind = None
