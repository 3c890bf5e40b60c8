"""Message base class: a dataclass plus its ROS 2 field list.

Every message type declares `_type` (the ROS 2 name, ``pkg/msg/Name``) and
`_fields`, a tuple of ``(field_name, ros_type)`` in the exact order and with
the exact types of the ``.msg`` definition.  That list is the single source of
truth for the wire format: the CDR codec and the `.msg`-sync test read it.

Python representation of ROS types:

- ``bool``/ints/floats            -> Python scalars
- ``string``                      -> str
- ``uint8[]`` / ``uint8[N]``      -> bytes (the fast path for images)
- other numeric arrays            -> numpy arrays of the matching dtype
- ``string[]``                    -> list[str]
- nested ``pkg/Type`` (and ``[]``) -> message instances (lists of them)
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar

import numpy as np

PRIMITIVE_DTYPES: dict[str, str] = {
    "bool": "?",
    "byte": "u1",
    "char": "u1",
    "int8": "i1",
    "uint8": "u1",
    "int16": "<i2",
    "uint16": "<u2",
    "int32": "<i4",
    "uint32": "<u4",
    "int64": "<i8",
    "uint64": "<u8",
    "float32": "<f4",
    "float64": "<f8",
}

_ARRAY_RE = re.compile(r"^(?P<base>[A-Za-z0-9_/]+)(\[(?P<size>\d*)\])?$")

_REGISTRY: dict[str, type["Message"]] = {}


@dataclasses.dataclass(frozen=True)
class FieldType:
    """A parsed ROS field type such as ``float64[9]`` or ``std_msgs/Header``."""

    base: str  # primitive name, 'string', or a full 'pkg/msg/Name'
    is_array: bool
    size: int | None  # fixed array length, None for unbounded

    @property
    def is_primitive(self) -> bool:
        return self.base in PRIMITIVE_DTYPES

    @property
    def is_string(self) -> bool:
        return self.base == "string"

    @property
    def is_message(self) -> bool:
        return not (self.is_primitive or self.is_string)


def normalise_type_name(name: str) -> str:
    """'std_msgs/Header' -> 'std_msgs/msg/Header'; primitives unchanged."""
    if name in PRIMITIVE_DTYPES or name == "string":
        return name
    parts = name.split("/")
    if len(parts) == 2:
        return f"{parts[0]}/msg/{parts[1]}"
    return name


def parse_field_type(ros_type: str) -> FieldType:
    m = _ARRAY_RE.match(ros_type.strip())
    if not m:
        raise ValueError(f"unsupported ROS field type {ros_type!r}")
    base = normalise_type_name(m.group("base"))
    is_array = m.group(2) is not None
    size = int(m.group("size")) if is_array and m.group("size") else None
    return FieldType(base, is_array, size)


def message_type(name: str) -> type["Message"]:
    """Look up a registered message class by 'pkg/msg/Name' (or 'pkg/Name')."""
    key = normalise_type_name(name)
    try:
        return _REGISTRY[key]
    except KeyError:
        raise KeyError(f"unknown message type {name!r}; known: {sorted(_REGISTRY)}") from None


def registered_types() -> dict[str, type["Message"]]:
    return dict(_REGISTRY)


class Message:
    """Base for all message dataclasses (see module docstring)."""

    _type: ClassVar[str]
    _fields: ClassVar[tuple[tuple[str, str], ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_type" in cls.__dict__:
            _REGISTRY[cls._type] = cls

    @classmethod
    def field_types(cls) -> list[tuple[str, FieldType]]:
        cached = cls.__dict__.get("_parsed_fields")
        if cached is None:
            cached = [(n, parse_field_type(t)) for n, t in cls._fields]
            cls._parsed_fields = cached  # type: ignore[attr-defined]
        return cached

    @classmethod
    def dds_type_name(cls) -> str:
        """rmw_cyclonedds type name, e.g. ``sensor_msgs::msg::dds_::Image_``."""
        pkg, sub, name = cls._type.split("/")
        return f"{pkg}::{sub}::dds_::{name}_"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        for name, _ in self._fields:
            a, b = getattr(self, name), getattr(other, name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if not np.array_equal(np.asarray(a), np.asarray(b)):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]


def array_field(dtype: str, values: Any = ()) -> Any:
    """dataclass default factory for numeric array fields."""
    return dataclasses.field(default_factory=lambda: np.array(values, dtype=dtype))
