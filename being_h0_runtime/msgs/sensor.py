"""sensor_msgs: Image, CameraInfo, JointState (+ RegionOfInterest for CameraInfo)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .base import Message, array_field
from .std import Header


@dataclass(eq=False)
class Image(Message):
    _type = "sensor_msgs/msg/Image"
    _fields = (
        ("header", "std_msgs/Header"),
        ("height", "uint32"),
        ("width", "uint32"),
        ("encoding", "string"),
        ("is_bigendian", "uint8"),
        ("step", "uint32"),
        ("data", "uint8[]"),
    )
    header: Header = field(default_factory=Header)
    height: int = 0
    width: int = 0
    encoding: str = ""
    is_bigendian: int = 0
    step: int = 0
    data: bytes = b""


@dataclass(eq=False)
class RegionOfInterest(Message):
    _type = "sensor_msgs/msg/RegionOfInterest"
    _fields = (
        ("x_offset", "uint32"),
        ("y_offset", "uint32"),
        ("height", "uint32"),
        ("width", "uint32"),
        ("do_rectify", "bool"),
    )
    x_offset: int = 0
    y_offset: int = 0
    height: int = 0
    width: int = 0
    do_rectify: bool = False


@dataclass(eq=False)
class CameraInfo(Message):
    _type = "sensor_msgs/msg/CameraInfo"
    _fields = (
        ("header", "std_msgs/Header"),
        ("height", "uint32"),
        ("width", "uint32"),
        ("distortion_model", "string"),
        ("d", "float64[]"),
        ("k", "float64[9]"),
        ("r", "float64[9]"),
        ("p", "float64[12]"),
        ("binning_x", "uint32"),
        ("binning_y", "uint32"),
        ("roi", "sensor_msgs/RegionOfInterest"),
    )
    header: Header = field(default_factory=Header)
    height: int = 0
    width: int = 0
    distortion_model: str = ""
    d: np.ndarray = array_field("<f8")
    k: np.ndarray = array_field("<f8", [0.0] * 9)
    r: np.ndarray = array_field("<f8", [0.0] * 9)
    p: np.ndarray = array_field("<f8", [0.0] * 12)
    binning_x: int = 0
    binning_y: int = 0
    roi: RegionOfInterest = field(default_factory=RegionOfInterest)


@dataclass(eq=False)
class JointState(Message):
    _type = "sensor_msgs/msg/JointState"
    _fields = (
        ("header", "std_msgs/Header"),
        ("name", "string[]"),
        ("position", "float64[]"),
        ("velocity", "float64[]"),
        ("effort", "float64[]"),
    )
    header: Header = field(default_factory=Header)
    name: list[str] = field(default_factory=list)
    position: np.ndarray = array_field("<f8")
    velocity: np.ndarray = array_field("<f8")
    effort: np.ndarray = array_field("<f8")
