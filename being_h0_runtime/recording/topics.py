"""The rig's topics as the recorder (and the live view) subscribe to them: type and QoS per topic."""

from __future__ import annotations

from ..msgs import (
    Bool,
    CameraInfo,
    DiagnosticArray,
    EStop,
    Image,
    JointState,
    Message,
    TaskCommand,
    TaskStatus,
    message_type,
)
from ..msgs.being_h0 import ActionChunk
from ..transport.api import COMMAND_QOS, ESTOP_QOS, LATCHED_QOS, SENSOR_QOS, QoS

#: the rig's topic conventions: topic -> (type, QoS the recorder subscribes with)
DEFAULT_TOPIC_TYPES: dict[str, tuple[type[Message], QoS]] = {
    "/camera/color/image_raw": (Image, SENSOR_QOS),
    "/camera/color/camera_info": (CameraInfo, LATCHED_QOS),
    # best-effort subscriptions match both reliable and best-effort publishers (the actuators
    # publish these best-effort); a deep history keeps the 13-d stream complete in practice
    "/joint_states": (JointState, QoS("best_effort", 100)),
    "/arm/command": (JointState, QoS("best_effort", 100)),
    "/hand/command": (JointState, QoS("best_effort", 100)),
    "/action_chunk": (ActionChunk, COMMAND_QOS),
    "/task/command": (TaskCommand, COMMAND_QOS),
    "/task/status": (TaskStatus, LATCHED_QOS),
    "/estop": (EStop, ESTOP_QOS),
    "/diagnostics": (DiagnosticArray, COMMAND_QOS),
    "/teleop/intervention": (Bool, LATCHED_QOS),
}
DEFAULT_TOPICS = list(DEFAULT_TOPIC_TYPES)


def resolve_topic(spec: str) -> tuple[str, type[Message], QoS]:
    """'/x' or '/x:pkg/msg/T' -> (topic, type, qos); a clear error for unknown ones."""
    if ":" in spec:
        topic, type_name = spec.split(":", 1)
        try:
            cls = message_type(type_name)
        except KeyError as e:
            raise ValueError(f"topics: {spec!r}: {e.args[0]}") from None
        qos = DEFAULT_TOPIC_TYPES.get(topic, (cls, QoS("reliable", 50)))[1]
        return topic, cls, qos
    if spec not in DEFAULT_TOPIC_TYPES:
        raise ValueError(f"topics: {spec!r} has no default type; write it as '{spec}:pkg/msg/Type' "
                         f"(known: {', '.join(DEFAULT_TOPIC_TYPES)})")
    cls, qos = DEFAULT_TOPIC_TYPES[spec]
    return spec, cls, qos
