"""trajectory_msgs: JointTrajectory and JointTrajectoryPoint."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .base import Message, array_field
from .std import Duration, Header


@dataclass(eq=False)
class JointTrajectoryPoint(Message):
    _type = "trajectory_msgs/msg/JointTrajectoryPoint"
    _fields = (
        ("positions", "float64[]"),
        ("velocities", "float64[]"),
        ("accelerations", "float64[]"),
        ("effort", "float64[]"),
        ("time_from_start", "builtin_interfaces/Duration"),
    )
    positions: np.ndarray = array_field("<f8")
    velocities: np.ndarray = array_field("<f8")
    accelerations: np.ndarray = array_field("<f8")
    effort: np.ndarray = array_field("<f8")
    time_from_start: Duration = field(default_factory=Duration)


@dataclass(eq=False)
class JointTrajectory(Message):
    _type = "trajectory_msgs/msg/JointTrajectory"
    _fields = (
        ("header", "std_msgs/Header"),
        ("joint_names", "string[]"),
        ("points", "trajectory_msgs/JointTrajectoryPoint[]"),
    )
    header: Header = field(default_factory=Header)
    joint_names: list[str] = field(default_factory=list)
    points: list[JointTrajectoryPoint] = field(default_factory=list)
