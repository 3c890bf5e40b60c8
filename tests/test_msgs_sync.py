"""being_h0_msgs: the Python `_fields` and the ROS 2 .msg files must describe the same wire format.

The .msg files are what a ROS 2 rig builds its types from; the Python
`_fields` are what our CDR codec reads.  If they drift apart, a rig and our
runtime would silently misread each other's bytes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from being_h0_runtime.msgs import registered_types
from being_h0_runtime.msgs.base import PRIMITIVE_DTYPES, FieldType, parse_field_type

PKG = "being_h0_msgs"
MSG_DIR = Path(__file__).resolve().parents[1] / "ros2_ws" / "src" / PKG / "msg"
_CONSTANT = re.compile(r"^\S+\s+[A-Z][A-Z0-9_]*\s*=")


def parse_msg(path: Path) -> list[tuple[str, FieldType]]:
    """(name, type) per field of a .msg file; comments, blank lines and constants are skipped."""
    fields = []
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line or _CONSTANT.match(line):
            continue
        parts = line.split()
        if len(parts) < 2:
            raise AssertionError(f"{path.name}:{lineno}: cannot parse field line {raw!r}")
        ros_type, name = parts[0], parts[1]  # a third token would be a default value
        base = re.sub(r"\[.*\]$", "", ros_type)
        if "/" not in base and base not in PRIMITIVE_DTYPES and base != "string":
            ros_type = f"{PKG}/{ros_type}"  # same-package reference
        try:
            fields.append((name, parse_field_type(ros_type)))
        except ValueError as exc:
            raise AssertionError(f"{path.name}:{lineno}: {exc}") from None
    return fields


def _ours() -> dict[str, type]:
    return {name.rsplit("/", 1)[1]: cls for name, cls in registered_types().items() if name.startswith(PKG + "/")}


def test_msg_dir_exists() -> None:
    assert MSG_DIR.is_dir(), f"missing {MSG_DIR}"
    assert sorted(MSG_DIR.glob("*.msg")), f"no .msg files in {MSG_DIR}"


@pytest.mark.parametrize("path", sorted(MSG_DIR.glob("*.msg")), ids=lambda p: p.stem)
def test_every_msg_file_has_a_matching_python_type(path: Path) -> None:
    ours = _ours()
    assert path.stem in ours, f"{path.name} has no Python type {PKG}/msg/{path.stem} in being_h0_runtime.msgs"
    cls = ours[path.stem]
    assert cls.field_types() == parse_msg(path), f"{cls._type}._fields differs from {path.name}"


@pytest.mark.parametrize("name", sorted(_ours()))
def test_every_python_type_has_a_msg_file(name: str) -> None:
    assert (MSG_DIR / f"{name}.msg").is_file(), f"{PKG}/msg/{name} has no {name}.msg in {MSG_DIR}"


def test_parser_catches_drift(tmp_path: Path) -> None:
    """The comparison must be able to fail: a swapped order and a changed type both differ."""
    cls = _ours()["EStop"]
    good = "\n".join(f"{t} {n}" for n, t in cls._fields)
    (tmp_path / "a.msg").write_text("# comment\nuint8 LEVEL=1\n" + good + "  # trailing\n")
    assert parse_msg(tmp_path / "a.msg") == cls.field_types()
    (tmp_path / "b.msg").write_text(good.replace("bool engaged", "uint8 engaged"))
    assert parse_msg(tmp_path / "b.msg") != cls.field_types()
    lines = good.splitlines()
    (tmp_path / "c.msg").write_text("\n".join([lines[1], lines[0], *lines[2:]]))
    assert parse_msg(tmp_path / "c.msg") != cls.field_types()
