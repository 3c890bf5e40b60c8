"""Our message dataclasses as stock cyclonedds IDL types, named as rosidl names them.

Topics are registered with these types (type name + XTypes information, what ROS 2 tools match on);
`to_idl` is the stock, slow serialisation path that tests and benchmarks compare ours against. The
runtime's own payloads never go through it (see `dds.wire_payload`).
"""

from __future__ import annotations

from typing import Any

from cyclonedds.idl import IdlStruct, make_idl_struct
from cyclonedds.idl import types as idl

from ..msgs import Message
from ..msgs.base import FieldType

_IDL_SCALARS: dict[str, Any] = {
    "bool": bool, "byte": idl.uint8, "char": idl.uint8, "int8": idl.int8, "uint8": idl.uint8,
    "int16": idl.int16, "uint16": idl.uint16, "int32": idl.int32, "uint32": idl.uint32,
    "int64": idl.int64, "uint64": idl.uint64, "float32": idl.float32, "float64": idl.float64,
    "string": str,
}
_IDL_TYPES: dict[type[Message], type[IdlStruct]] = {}


def _idl_field(ft: FieldType) -> Any:
    from ..msgs import message_type

    elem = idl_type(message_type(ft.base)) if ft.is_message else _IDL_SCALARS[ft.base]
    if not ft.is_array:
        return elem
    return idl.array[elem, ft.size] if ft.size is not None else idl.sequence[elem]


def idl_type(cls: type[Message]) -> type[IdlStruct]:
    """The cyclonedds IDL struct for `cls`, named as rosidl names it (``pkg::msg::dds_::T_``).

    Used to register topics (type name + XTypes info) and as the *stock*
    serialisation path in tests and benchmarks; our payloads never go through it.
    """
    t = _IDL_TYPES.get(cls)
    if t is None:
        fields = {name: _idl_field(ft) for name, ft in cls.field_types()}
        t = _IDL_TYPES[cls] = make_idl_struct(cls.__name__ + "_", cls.dds_type_name(), fields)
    return t


def to_idl(msg: Message) -> IdlStruct:
    """Our dataclass -> the equivalent stock cyclonedds IDL sample (slow path; tests and benchmarks)."""
    kwargs = {}
    for name, ft in type(msg).field_types():
        v = getattr(msg, name)
        if ft.is_message:
            v = [to_idl(x) for x in v] if ft.is_array else to_idl(v)
        elif ft.is_array and ft.is_primitive:
            v = v if isinstance(v, bytes) else [x.item() if hasattr(x, "item") else x for x in v]
        kwargs[name] = v
    return idl_type(type(msg))(**kwargs)
