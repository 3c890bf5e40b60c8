"""Driver interfaces shared by real hardware backends and their virtual-rig twins.

Every driver has one lifecycle, ros2_control's hardware-interface states,
enforced here by :class:`Driver` so each backend only fills in the steps:

    unconfigured --configure()--> inactive --activate()--> active
                                  inactive <--deactivate()-- active
    any state --close()--> finalized (terminal)

    configure()  -> open links, read static info (may raise DriverError)
    activate()   -> start streaming / enable motion
    read()       -> latest state (never blocks longer than one control cycle)
    write(cmd)   -> send one command (already safety-filtered by the node)
    hold()       -> stop moving *now* and keep the current position
    deactivate() -> stop streaming / disable motion, links stay open
    close()      -> release everything

Going forward is checked: as in ros2_control, read() needs a configured
driver (inactive or active: reading never moves anything) and write() an
active one; activate() needs configure() first; nothing but close() works
after close(). A call out of order raises :class:`LifecycleError` (a
DriverError) naming the driver, the call and the state. Stopping is never
refused: hold(), deactivate() and close() are harmless in any state (a no-op
where there is nothing to stop), because a node's shutdown path must always
get through them. configure() and activate() on a driver already there are
no-ops too.

Nodes own safety; drivers only report faults truthfully. A driver never
resumes motion after a fault on its own: `recover()` is called only on an
operator's request.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

import numpy as np

# Robot facts live in the rig description; re-exported because every driver user needs them.
from ..rig import ARM_JOINT_NAMES, HAND_DOF_NAMES, READY_Q  # noqa: F401


class DriverError(RuntimeError):
    """A device could not be configured or a link failed beyond recovery."""


class LifecycleError(DriverError):
    """A driver method was called in a lifecycle state that does not allow it (a caller's bug)."""


@dataclass
class Diagnostic:
    """One status line, mapped 1:1 onto diagnostic_msgs/DiagnosticStatus."""

    level: int  # 0 OK, 1 WARN, 2 ERROR, 3 STALE (diagnostic_msgs levels)
    name: str
    message: str
    values: dict[str, str] = field(default_factory=dict)

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


# --------------------------------------------------------------------- lifecycle


class LifecycleState(enum.Enum):
    """ros2_control's primary states of a hardware component."""

    UNCONFIGURED = "unconfigured"
    INACTIVE = "inactive"
    ACTIVE = "active"
    FINALIZED = "finalized"


_CONFIGURED = (LifecycleState.INACTIVE, LifecycleState.ACTIVE)

#: what a caller has to do to leave each state (for LifecycleError messages)
_WAY_OUT = {
    LifecycleState.UNCONFIGURED: "call configure() first",
    LifecycleState.INACTIVE: "call activate() first",
    LifecycleState.ACTIVE: "call deactivate() first",
    LifecycleState.FINALIZED: "it was closed: create a new driver",
}


class Driver(abc.ABC):
    """The lifecycle state machine; backends implement the `_on_*` steps.

    A step that raises leaves the state where it was (a failed configure() may
    be retried), so a step must release what it opened before raising.
    """

    #: activate() on an unconfigured driver configures it first instead of raising
    configure_on_activate: ClassVar[bool] = False
    # a class-level default, so backends need no super().__init__() call to start unconfigured
    _lifecycle: LifecycleState = LifecycleState.UNCONFIGURED

    @property
    def lifecycle_state(self) -> LifecycleState:
        return self._lifecycle

    @property
    def is_active(self) -> bool:
        return self._lifecycle is LifecycleState.ACTIVE

    @property
    def driver_name(self) -> str:
        """Who this is in error messages; backends add the device (port, IP, file)."""
        return type(self).__name__

    def configure(self) -> None:
        if self._lifecycle in _CONFIGURED:
            return
        self._require("configure", LifecycleState.UNCONFIGURED)
        self._on_configure()
        self._lifecycle = LifecycleState.INACTIVE

    def activate(self) -> None:
        if self._lifecycle is LifecycleState.ACTIVE:
            return
        if self._lifecycle is LifecycleState.UNCONFIGURED and self.configure_on_activate:
            self.configure()
        self._require("activate", LifecycleState.INACTIVE)
        self._on_activate()
        self._lifecycle = LifecycleState.ACTIVE

    def deactivate(self) -> None:
        if self._lifecycle is not LifecycleState.ACTIVE:
            return
        self._lifecycle = LifecycleState.INACTIVE  # first: no write() gets in after the stop below
        self._on_deactivate()

    def close(self) -> None:
        if self._lifecycle is LifecycleState.FINALIZED:
            return
        self._lifecycle = LifecycleState.FINALIZED
        self._on_close()

    def diagnostics(self) -> list[Diagnostic]:
        return []

    def _require(self, call: str, *allowed: LifecycleState) -> None:
        """Raise LifecycleError unless the driver is in one of `allowed`."""
        state = self._lifecycle
        if state in allowed:
            return
        need = " or ".join(s.value for s in allowed)
        raise LifecycleError(f"{self.driver_name}: {call}() needs the driver {need}, but it is {state.value}; "
                             f"{_WAY_OUT[state]}")

    def _require_configured(self, call: str) -> None:
        self._require(call, *_CONFIGURED)

    # -- the steps a backend implements

    @abc.abstractmethod
    def _on_configure(self) -> None: ...

    def _on_activate(self) -> None:
        """Start streaming / enable motion (nothing to do for most backends)."""

    def _on_deactivate(self) -> None:
        """Stop streaming / disable motion; links stay open."""

    def _on_close(self) -> None:
        """Release everything; called at most once."""


StateT = TypeVar("StateT")
CommandT = TypeVar("CommandT")


class MotionDriver(Driver, Generic[StateT, CommandT]):
    """A driver that moves something: state in, commands out, hold and operator recovery."""

    def read(self) -> StateT:
        self._require_configured("read")
        return self._read_state()

    def write(self, command: CommandT) -> None:
        self._require("write", LifecycleState.ACTIVE)
        self._write_command(command)

    def hold(self) -> None:
        """Stop moving now and keep the current position; a no-op where nothing is open."""
        if self._lifecycle in _CONFIGURED:
            self._hold_position()

    def recover(self) -> None:
        """Clear a fault. Only ever called on an explicit operator request."""
        self._require_configured("recover")
        self._recover_fault()

    def _on_deactivate(self) -> None:
        self._hold_position()

    @abc.abstractmethod
    def _read_state(self) -> StateT: ...

    @abc.abstractmethod
    def _write_command(self, command: CommandT) -> None: ...

    @abc.abstractmethod
    def _hold_position(self) -> None: ...

    def _recover_fault(self) -> None:
        pass


# --------------------------------------------------------------------------- arm


@dataclass
class ArmState:
    stamp: float  # seconds, driver clock (sim time under the virtual rig)
    q: np.ndarray  # (7,) rad
    dq: np.ndarray  # (7,) rad/s
    tau: np.ndarray  # (7,) Nm (measured; zeros where unknown)
    ee_position: np.ndarray  # (3,) m, base frame
    ee_orientation: np.ndarray  # (4,) quaternion x, y, z, w (ROS order), base frame
    wrench: np.ndarray = field(default_factory=lambda: np.zeros(6))  # external, base frame
    mode: str = "idle"  # idle | move | reflex | user_stopped | fault | ...
    fault: str | None = None  # set while the robot refuses motion


@dataclass
class ArmCommand:
    """A joint-space target for one control cycle.

    `velocity` lets streaming backends (franky waypoints) pass through a
    waypoint without stopping; None means "arrive at rest".
    """

    q: np.ndarray  # (7,) rad
    velocity: np.ndarray | None = None  # (7,) rad/s


class ArmDriver(MotionDriver[ArmState, ArmCommand]):
    joint_names: tuple[str, ...] = ARM_JOINT_NAMES


# -------------------------------------------------------------------------- hand


@dataclass
class HandState:
    stamp: float
    #: per-DoF closure in [0, 1]: 0 = fully open, 1 = fully closed (calibrated)
    position: np.ndarray  # (6,)
    force: np.ndarray = field(default_factory=lambda: np.zeros(6))  # grams-force as the hand reports
    error: np.ndarray = field(default_factory=lambda: np.zeros(6, dtype=np.int64))  # per-DoF error bits
    temperature: np.ndarray = field(default_factory=lambda: np.zeros(6))  # deg C
    fault: str | None = None


@dataclass
class HandCommand:
    #: per-DoF closure target in [0, 1]; NaN means "leave unchanged"
    position: np.ndarray  # (6,)
    speed: np.ndarray | None = None  # (6,) in [0, 1] of max speed
    force_limit: np.ndarray | None = None  # (6,) in [0, 1] of max force


class HandDriver(MotionDriver[HandState, HandCommand]):
    dof_names: tuple[str, ...] = HAND_DOF_NAMES


# ------------------------------------------------------------------------ camera


@dataclass
class CameraIntrinsics:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distortion_model: str = "plumb_bob"
    distortion: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])


@dataclass
class CameraFrame:
    stamp: float  # seconds (hardware/global timestamp where the device has one)
    color: np.ndarray  # (H, W, 3) uint8 RGB
    depth: np.ndarray | None = None  # (H, W) uint16 millimetres, aligned to color
    frame_id: str = "camera_color_optical_frame"
    sequence: int = 0


class CameraDriver(Driver):
    def read(self) -> CameraFrame | None:
        """Newest frame not returned before, or None if none arrived yet."""
        self._require_configured("read")
        return self._read_frame()

    def intrinsics(self) -> CameraIntrinsics:
        """Colour intrinsics (DriverError while the device has not told them yet)."""
        self._require_configured("intrinsics")
        return self._color_intrinsics()

    @abc.abstractmethod
    def _read_frame(self) -> CameraFrame | None: ...

    @abc.abstractmethod
    def _color_intrinsics(self) -> CameraIntrinsics: ...
