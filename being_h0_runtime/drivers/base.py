"""Driver interfaces shared by real hardware backends and their virtual-rig twins.

The lifecycle follows ros2_control's hardware interface:

    configure()  -> open links, read static info (may raise DriverError)
    activate()   -> start streaming / enable motion
    read()       -> latest state (never blocks longer than one control cycle)
    write(cmd)   -> send one command (already safety-filtered by the node)
    hold()       -> stop moving *now* and keep the current position
    deactivate() -> stop streaming / disable motion, links stay open
    close()      -> release everything (idempotent)

Nodes own safety; drivers only report faults truthfully. A driver never
resumes motion after a fault on its own: `recover()` is called only on an
operator's request.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np

# Robot facts live in the rig description; re-exported because every driver user needs them.
from ..rig import ARM_JOINT_NAMES, HAND_DOF_NAMES, READY_Q  # noqa: F401


class DriverError(RuntimeError):
    """A device could not be configured or a link failed beyond recovery."""


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


class ArmDriver(abc.ABC):
    joint_names: tuple[str, ...] = ARM_JOINT_NAMES

    @abc.abstractmethod
    def configure(self) -> None: ...

    @abc.abstractmethod
    def activate(self) -> None: ...

    @abc.abstractmethod
    def read(self) -> ArmState: ...

    @abc.abstractmethod
    def write(self, command: ArmCommand) -> None: ...

    @abc.abstractmethod
    def hold(self) -> None: ...

    def deactivate(self) -> None:
        self.hold()

    def recover(self) -> None:
        """Clear a fault. Only ever called on an explicit operator request."""

    def close(self) -> None:
        pass

    def diagnostics(self) -> list[Diagnostic]:
        return []


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


class HandDriver(abc.ABC):
    dof_names: tuple[str, ...] = HAND_DOF_NAMES

    @abc.abstractmethod
    def configure(self) -> None: ...

    @abc.abstractmethod
    def activate(self) -> None: ...

    @abc.abstractmethod
    def read(self) -> HandState: ...

    @abc.abstractmethod
    def write(self, command: HandCommand) -> None: ...

    @abc.abstractmethod
    def hold(self) -> None: ...

    def deactivate(self) -> None:
        self.hold()

    def recover(self) -> None:
        pass

    def close(self) -> None:
        pass

    def diagnostics(self) -> list[Diagnostic]:
        return []


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


class CameraDriver(abc.ABC):
    @abc.abstractmethod
    def configure(self) -> None: ...

    @abc.abstractmethod
    def activate(self) -> None: ...

    @abc.abstractmethod
    def read(self) -> CameraFrame | None:
        """Newest frame not returned before, or None if none arrived yet."""

    @abc.abstractmethod
    def intrinsics(self) -> CameraIntrinsics: ...

    def deactivate(self) -> None:
        pass

    def close(self) -> None:
        pass

    def diagnostics(self) -> list[Diagnostic]:
        return []
