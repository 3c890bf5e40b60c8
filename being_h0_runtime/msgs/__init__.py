"""ROS 2 wire-compatible message types (see base.py for the representation)."""

from .base import FieldType, Message, message_type, parse_field_type, registered_types
from .being_h0 import ActionChunk, EStop, SimState, TaskCommand, TaskStatus
from .diagnostic import DiagnosticArray, DiagnosticStatus, KeyValue
from .geometry import Point, Pose, PoseStamped, Quaternion, Vector3, Wrench, WrenchStamped
from .sensor import CameraInfo, Image, JointState, RegionOfInterest
from .std import Bool, Clock, Duration, Header, String, Time
from .trajectory import JointTrajectory, JointTrajectoryPoint

__all__ = [
    "ActionChunk", "Bool", "CameraInfo", "Clock", "DiagnosticArray", "DiagnosticStatus", "Duration",
    "EStop", "FieldType", "Header", "Image", "JointState", "JointTrajectory", "JointTrajectoryPoint",
    "KeyValue", "Message", "Point", "Pose", "PoseStamped", "Quaternion", "RegionOfInterest", "SimState",
    "String", "TaskCommand", "TaskStatus", "Time", "Vector3", "Wrench", "WrenchStamped", "message_type",
    "parse_field_type", "registered_types",
]
