"""being_h0_msgs: our own messages, only where no standard one fits.

Kept in sync with ros2_ws/src/being_h0_msgs/msg/*.msg by tests/test_msgs_sync.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .base import Message, array_field
from .geometry import Pose
from .std import Header, Time


@dataclass(eq=False)
class ActionChunk(Message):
    """A chunk of future actions from the policy.

    `data` is row-major (steps x dims); `names` label the dims using the
    engine manifest's action spec (e.g. fr3_joint1..7, little..thumb_rotation).
    `source_stamp` is the time of the observation the chunk was computed from,
    which latency-compensating executors need.
    """

    _type = "being_h0_msgs/msg/ActionChunk"
    _fields = (
        ("header", "std_msgs/Header"),
        ("source_stamp", "builtin_interfaces/Time"),
        ("names", "string[]"),
        ("steps", "uint32"),
        ("dims", "uint32"),
        ("step_dt", "float64"),
        ("data", "float32[]"),
        ("engine_id", "string"),
        ("sequence", "uint32"),
    )
    header: Header = field(default_factory=Header)
    source_stamp: Time = field(default_factory=Time)
    names: list[str] = field(default_factory=list)
    steps: int = 0
    dims: int = 0
    step_dt: float = 0.1
    data: np.ndarray = array_field("<f4")
    engine_id: str = ""
    sequence: int = 0


@dataclass(eq=False)
class TaskCommand(Message):
    """An operator's request to the task node."""

    _type = "being_h0_msgs/msg/TaskCommand"
    _fields = (
        ("header", "std_msgs/Header"),
        ("command", "string"),
        ("task_id", "string"),
        ("instruction", "string"),
        ("episode", "uint32"),
        ("seed", "int64"),
        ("operator", "string"),
    )
    START = "start"
    STOP = "stop"
    MARK_SUCCESS = "mark_success"
    MARK_FAILURE = "mark_failure"
    header: Header = field(default_factory=Header)
    command: str = ""
    task_id: str = ""
    instruction: str = ""
    episode: int = 0
    seed: int = 0
    operator: str = ""


@dataclass(eq=False)
class TaskStatus(Message):
    """The task node's state machine, published on every change and at 2 Hz."""

    _type = "being_h0_msgs/msg/TaskStatus"
    _fields = (
        ("header", "std_msgs/Header"),
        ("task_id", "string"),
        ("instruction", "string"),
        ("state", "string"),
        ("episode", "uint32"),
        ("elapsed", "float64"),
        ("success", "bool"),
        ("message", "string"),
    )
    IDLE = "idle"
    HOMING = "homing"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"
    ABORTED = "aborted"
    TERMINAL = ("succeeded", "failed", "timeout", "aborted")
    header: Header = field(default_factory=Header)
    task_id: str = ""
    instruction: str = ""
    state: str = "idle"
    episode: int = 0
    elapsed: float = 0.0
    success: bool = False
    message: str = ""


@dataclass(eq=False)
class EStop(Message):
    """Latched emergency stop. Published transient-local so late joiners see it.

    engaged=True latches every motion node. held=True (with engaged) says a
    hardware source (a foot switch, its lost link) still holds the stop: every
    motion node refuses resets until it hears that source's release, which is
    engaged=False, held=False, no operator. The node wired to the hardware
    re-publishes its state periodically. engaged=False with an operator is an
    operator's explicit reset.
    """

    _type = "being_h0_msgs/msg/EStop"
    _fields = (
        ("header", "std_msgs/Header"),
        ("engaged", "bool"),
        ("source", "string"),
        ("reason", "string"),
        ("operator", "string"),
        ("held", "bool"),
    )
    header: Header = field(default_factory=Header)
    engaged: bool = True
    source: str = ""
    reason: str = ""
    operator: str = ""
    held: bool = False


@dataclass(eq=False)
class SimState(Message):
    """Privileged virtual-rig state (object poses, success) for scripted experts,
    benchmarks and the task node's success judgement. Never published on a real rig."""

    _type = "being_h0_msgs/msg/SimState"
    _fields = (
        ("header", "std_msgs/Header"),
        ("names", "string[]"),
        ("poses", "geometry_msgs/Pose[]"),
        ("success", "bool"),
        ("task_id", "string"),
        ("seed", "int64"),
    )
    header: Header = field(default_factory=Header)
    names: list[str] = field(default_factory=list)
    poses: list[Pose] = field(default_factory=list)
    success: bool = False
    task_id: str = ""
    seed: int = 0
