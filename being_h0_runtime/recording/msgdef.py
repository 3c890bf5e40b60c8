"""Full ROS 2 `.msg` definitions (with dependencies) generated from our message classes.

rosbag2's MCAP storage stores one schema per type with encoding ``ros2msg``:
the type's own ``.msg`` text followed by every nested type's text, each after a
line of 80 '=' and ``MSG: pkg/Name``.  Readers that know nothing about our
Python types (ros2 bag, Foxglove, mcap-ros2-support, rosbags) decode the CDR
payloads from this text alone, so it must match `Message._fields` exactly.
"""

from __future__ import annotations

from ..msgs.base import Message, message_type

SEPARATOR = "=" * 80


def _short(name: str) -> str:
    """'std_msgs/msg/Header' -> 'std_msgs/Header' (the spelling used inside .msg files)."""
    parts = name.split("/")
    return f"{parts[0]}/{parts[-1]}" if len(parts) == 3 else name


def msg_text(cls: type[Message]) -> str:
    """The `.msg` body of one type (fields only, no dependencies)."""
    lines = []
    for name, ftype in cls.field_types():
        base = _short(ftype.base) if ftype.is_message else ftype.base
        suffix = "" if not ftype.is_array else f"[{ftype.size}]" if ftype.size is not None else "[]"
        lines.append(f"{base}{suffix} {name}")
    return "\n".join(lines)


def dependencies(cls: type[Message]) -> list[type[Message]]:
    """Nested message types, depth-first, each once, in first-use order."""
    seen: dict[str, type[Message]] = {}

    def visit(c: type[Message]) -> None:
        for _, ftype in c.field_types():
            if ftype.is_message and ftype.base not in seen:
                dep = message_type(ftype.base)
                seen[ftype.base] = dep
                visit(dep)

    visit(cls)
    return list(seen.values())


def full_msg_definition(cls: type[Message]) -> str:
    """ros2msg schema text as rosbag2 writes it into MCAP."""
    parts = [msg_text(cls)]
    for dep in dependencies(cls):
        parts.append(f"{SEPARATOR}\nMSG: {_short(dep._type)}\n{msg_text(dep)}")
    return "\n".join(parts) + "\n"
