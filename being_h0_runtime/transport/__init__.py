"""Node API and its adapters: inproc (deterministic), dds (Cyclone DDS), ros2 (rclpy)."""

from .api import (COMMAND_QOS, ESTOP_QOS, JOINT_STATE_QOS, LATCHED_QOS, SENSOR_PUB_QOS, SENSOR_QOS, Context,
                  NodeHandle, Publisher, QoS, Subscription, Timer)

__all__ = ["COMMAND_QOS", "ESTOP_QOS", "JOINT_STATE_QOS", "LATCHED_QOS", "SENSOR_PUB_QOS", "SENSOR_QOS", "Context",
           "NodeHandle", "Publisher", "QoS",
           "Subscription", "Timer", "available_adapters", "create_context"]


def available_adapters() -> list[str]:
    """Adapters importable on this machine, in preference order."""
    names = ["inproc"]
    try:
        import cyclonedds  # noqa: F401

        names.append("dds")
    except ImportError:
        pass
    try:
        import rclpy  # noqa: F401

        names.append("ros2")
    except ImportError:
        pass
    return names


def create_context(adapter: str = "auto", **kwargs):
    """Create a transport context. 'auto' picks ros2 when rclpy imports, else dds."""
    if adapter == "auto":
        adapter = "ros2" if "ros2" in available_adapters() else "dds"
    if adapter == "inproc":
        from .inproc import InprocContext

        return InprocContext(**kwargs)
    if adapter == "dds":
        from .dds import DdsContext

        return DdsContext(**kwargs)
    if adapter == "ros2":
        from .ros2 import Ros2Context

        return Ros2Context(**kwargs)
    raise ValueError(f"unknown transport adapter {adapter!r}; choose from inproc, dds, ros2, auto")
