"""diagnostic_msgs: KeyValue, DiagnosticStatus, DiagnosticArray."""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import Message
from .std import Header


@dataclass(eq=False)
class KeyValue(Message):
    _type = "diagnostic_msgs/msg/KeyValue"
    _fields = (("key", "string"), ("value", "string"))
    key: str = ""
    value: str = ""


@dataclass(eq=False)
class DiagnosticStatus(Message):
    _type = "diagnostic_msgs/msg/DiagnosticStatus"
    _fields = (
        ("level", "byte"),
        ("name", "string"),
        ("message", "string"),
        ("hardware_id", "string"),
        ("values", "diagnostic_msgs/KeyValue[]"),
    )
    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3
    level: int = 0
    name: str = ""
    message: str = ""
    hardware_id: str = ""
    values: list[KeyValue] = field(default_factory=list)


@dataclass(eq=False)
class DiagnosticArray(Message):
    _type = "diagnostic_msgs/msg/DiagnosticArray"
    _fields = (("header", "std_msgs/Header"), ("status", "diagnostic_msgs/DiagnosticStatus[]"))
    header: Header = field(default_factory=Header)
    status: list[DiagnosticStatus] = field(default_factory=list)
