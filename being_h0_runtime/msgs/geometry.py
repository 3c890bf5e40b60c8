"""geometry_msgs: Point, Quaternion, Pose, PoseStamped, Vector3, Wrench(Stamped)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import Message
from .std import Header


@dataclass(eq=False)
class Point(Message):
    _type = "geometry_msgs/msg/Point"
    _fields = (("x", "float64"), ("y", "float64"), ("z", "float64"))
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0


@dataclass(eq=False)
class Vector3(Message):
    _type = "geometry_msgs/msg/Vector3"
    _fields = (("x", "float64"), ("y", "float64"), ("z", "float64"))
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0


@dataclass(eq=False)
class Quaternion(Message):
    _type = "geometry_msgs/msg/Quaternion"
    _fields = (("x", "float64"), ("y", "float64"), ("z", "float64"), ("w", "float64"))
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    w: float = 1.0


@dataclass(eq=False)
class Pose(Message):
    _type = "geometry_msgs/msg/Pose"
    _fields = (("position", "geometry_msgs/Point"), ("orientation", "geometry_msgs/Quaternion"))
    position: Point = field(default_factory=Point)
    orientation: Quaternion = field(default_factory=Quaternion)


@dataclass(eq=False)
class PoseStamped(Message):
    _type = "geometry_msgs/msg/PoseStamped"
    _fields = (("header", "std_msgs/Header"), ("pose", "geometry_msgs/Pose"))
    header: Header = field(default_factory=Header)
    pose: Pose = field(default_factory=Pose)


@dataclass(eq=False)
class Wrench(Message):
    _type = "geometry_msgs/msg/Wrench"
    _fields = (("force", "geometry_msgs/Vector3"), ("torque", "geometry_msgs/Vector3"))
    force: Vector3 = field(default_factory=Vector3)
    torque: Vector3 = field(default_factory=Vector3)


@dataclass(eq=False)
class WrenchStamped(Message):
    _type = "geometry_msgs/msg/WrenchStamped"
    _fields = (("header", "std_msgs/Header"), ("wrench", "geometry_msgs/Wrench"))
    header: Header = field(default_factory=Header)
    wrench: Wrench = field(default_factory=Wrench)
