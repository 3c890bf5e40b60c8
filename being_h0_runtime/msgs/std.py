"""Standard ROS 2 messages: builtin_interfaces, std_msgs, rosgraph_msgs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .base import Message


@dataclass(eq=False)
class Time(Message):
    _type = "builtin_interfaces/msg/Time"
    _fields = (("sec", "int32"), ("nanosec", "uint32"))
    sec: int = 0
    nanosec: int = 0

    @classmethod
    def from_sec(cls, t: float) -> "Time":
        sec = math.floor(t)
        nsec = int(round((t - sec) * 1e9))
        if nsec >= 1_000_000_000:
            sec, nsec = sec + 1, nsec - 1_000_000_000
        return cls(int(sec), nsec)

    def to_sec(self) -> float:
        return self.sec + self.nanosec * 1e-9


@dataclass(eq=False)
class Duration(Message):
    _type = "builtin_interfaces/msg/Duration"
    _fields = (("sec", "int32"), ("nanosec", "uint32"))
    sec: int = 0
    nanosec: int = 0


@dataclass(eq=False)
class Header(Message):
    _type = "std_msgs/msg/Header"
    _fields = (("stamp", "builtin_interfaces/Time"), ("frame_id", "string"))
    stamp: Time = field(default_factory=Time)
    frame_id: str = ""


@dataclass(eq=False)
class String(Message):
    _type = "std_msgs/msg/String"
    _fields = (("data", "string"),)
    data: str = ""


@dataclass(eq=False)
class Bool(Message):
    _type = "std_msgs/msg/Bool"
    _fields = (("data", "bool"),)
    data: bool = False


@dataclass(eq=False)
class Clock(Message):
    _type = "rosgraph_msgs/msg/Clock"
    _fields = (("clock", "builtin_interfaces/Time"),)
    clock: Time = field(default_factory=Time)
