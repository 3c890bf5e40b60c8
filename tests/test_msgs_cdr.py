"""msgs/cdr.py against an independent ROS 2 CDR implementation (rosbags.serde).

Every registered message type is filled with random contents (hypothesis),
serialised by both codecs and compared byte for byte; both directions of
decoding are checked too.  Our own types are registered in rosbags from .msg
text generated from `_fields`, the standard ones come from rosbags' Humble
typestore (i.e. the real upstream definitions).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from being_h0_runtime.msgs import Image, JointState, Message, String, registered_types
from being_h0_runtime.msgs.base import PRIMITIVE_DTYPES, FieldType
from being_h0_runtime.msgs.cdr import CdrError, deserialize, serialize, serialized_parts

rosbags_typesys = pytest.importorskip("rosbags.typesys")

_INT_RANGES = {
    "byte": (0, 255), "char": (0, 255), "int8": (-128, 127), "uint8": (0, 255),
    "int16": (-(2**15), 2**15 - 1), "uint16": (0, 2**16 - 1), "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1), "int64": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1),
}
_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


def _msg_text(cls: type[Message]) -> str:
    return "\n".join(f"{t} {n}" for n, t in cls._fields) + "\n"


@pytest.fixture(scope="module")
def typestore():
    ts = rosbags_typesys.get_typestore(rosbags_typesys.Stores.ROS2_HUMBLE)
    extra = {}
    for name, cls in registered_types().items():
        if name not in ts.types:
            extra.update(rosbags_typesys.get_types_from_msg(_msg_text(cls), name))
    ts.register(extra)
    return ts


def _scalar(base: str) -> st.SearchStrategy:
    if base == "bool":
        return st.booleans()
    if base == "float32":
        return st.floats(width=32, allow_nan=False)
    if base == "float64":
        return st.floats(allow_nan=False)
    lo, hi = _INT_RANGES[base]
    return st.integers(lo, hi)


def _field(ft: FieldType, depth: int) -> st.SearchStrategy:
    if not ft.is_array:
        if ft.is_string:
            return _TEXT
        if ft.is_primitive:
            return _scalar(ft.base)
        return _message(registered_types()[ft.base], depth + 1)
    sizes = {"min_size": ft.size, "max_size": ft.size} if ft.size is not None else {"max_size": 5}
    if ft.base in ("uint8", "byte", "char"):
        return st.binary(**sizes)
    if ft.is_primitive:
        dtype = PRIMITIVE_DTYPES[ft.base]
        return st.lists(_scalar(ft.base), **sizes).map(lambda v: np.array(v, dtype=dtype))
    if ft.is_string:
        return st.lists(_TEXT, **sizes)
    return st.lists(_message(registered_types()[ft.base], depth + 1), **{**sizes, "max_size": min(sizes["max_size"], 3)})


def _message(cls: type[Message], depth: int = 0) -> st.SearchStrategy:
    return st.builds(cls, **{n: _field(ft, depth) for n, ft in cls.field_types()})


def _to_rosbags(msg: Message, ts):
    """Our dataclass -> the equivalent rosbags dataclass (independent of cdr.py)."""
    kwargs = {}
    for name, ft in type(msg).field_types():
        v = getattr(msg, name)
        if ft.is_message:
            v = [_to_rosbags(x, ts) for x in v] if ft.is_array else _to_rosbags(v, ts)
        elif ft.is_array and ft.is_primitive:
            v = np.frombuffer(v, dtype=np.uint8) if isinstance(v, bytes) else np.asarray(v, PRIMITIVE_DTYPES[ft.base])
        elif ft.base == "byte":
            v = v - 256 if v > 127 else v  # rosbags models ROS 'byte' as int8; same bits on the wire
        kwargs[name] = v
    return ts.types[msg._type](**kwargs)


TYPES = sorted(registered_types().items())


@pytest.mark.parametrize("name,cls", TYPES, ids=[n for n, _ in TYPES])
def test_bytes_equal_rosbags_and_round_trip(name: str, cls: type[Message], typestore) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_message(cls))
    def check(msg: Message) -> None:
        ours = serialize(msg)
        theirs = bytes(typestore.serialize_cdr(_to_rosbags(msg, typestore), name))
        assert ours == theirs
        assert deserialize(theirs, cls) == msg
        back = typestore.deserialize_cdr(ours, name)
        assert serialize(deserialize(bytes(typestore.serialize_cdr(back, name)), cls)) == ours

    check()


def test_image_layout_by_hand() -> None:
    """Pin the layout independently of any library: header, alignment, string, byte sequence."""
    img = Image(height=2, width=1, encoding="rgb8", step=3, data=bytes(range(6)))
    img.header.stamp.sec, img.header.stamp.nanosec, img.header.frame_id = 7, 9, "c"
    expected = (
        b"\x00\x01\x00\x00"                 # CDR_LE
        + b"\x07\x00\x00\x00\x09\x00\x00\x00"  # stamp
        + b"\x02\x00\x00\x00c\x00"           # frame_id "c" (len 2 incl NUL)
        + b"\x00\x00"                         # pad to 4
        + b"\x02\x00\x00\x00\x01\x00\x00\x00"  # height, width
        + b"\x05\x00\x00\x00rgb8\x00"         # encoding
        + b"\x00"                             # is_bigendian
        + b"\x00\x00"                         # pad to 4
        + b"\x03\x00\x00\x00"                 # step
        + b"\x06\x00\x00\x00" + bytes(range(6))
    )
    assert serialize(img) == expected
    assert deserialize(memoryview(expected), Image) == img


def test_float64_alignment_is_relative_to_header_end() -> None:
    # body: stamp(8) frame_id ""(4+1) pad(3) names count 0 (4) positions count 1 (4) -> offset 24,
    # 8-aligned relative to the header end (absolute offset 28), so no padding before the float64
    body = serialize(JointState(position=np.array([1.5])))[4:]
    assert body[16:24] == b"\x00\x00\x00\x00\x01\x00\x00\x00"
    assert body[24:32] == np.float64(1.5).tobytes()
    # frame_id "abcd" (4+5) -> 17, pad 3, counts -> 28, pad 4 -> float64 at 32
    js = JointState(position=np.array([1.5]))
    js.header.frame_id = "abcd"
    body = serialize(js)[4:]
    assert body[24:28] == b"\x01\x00\x00\x00" and body[28:32] == bytes(4)
    assert body[32:40] == np.float64(1.5).tobytes()


def test_errors_name_type_and_field() -> None:
    with pytest.raises(CdrError, match="sensor_msgs/msg/CameraInfo.k"):
        from being_h0_runtime.msgs import CameraInfo

        serialize(CameraInfo(k=np.zeros(8)))
    with pytest.raises(CdrError, match="CDR_BE"):
        deserialize(b"\x00\x00\x00\x00", String)
    with pytest.raises(CdrError, match="truncated|past the end"):
        deserialize(serialize(String(data="hello"))[:-3], String)
    with pytest.raises(CdrError, match="Image: bad value in field.*height"):
        serialize(Image(height=-1))


def test_large_image_matches_rosbags_and_round_trips(typestore) -> None:
    """Big payloads take the chunked path (serialized_parts); the bytes must not change."""
    data = np.random.default_rng(0).integers(0, 255, 640 * 480 * 3, dtype=np.uint8).tobytes()
    img = Image(height=480, width=640, encoding="rgb8", step=1920, data=data)
    img.header.frame_id = "cam"
    wire = serialize(img)
    assert wire == bytes(typestore.serialize_cdr(_to_rosbags(img, typestore), Image._type))
    assert b"".join(serialized_parts(img)) == wire
    out = deserialize(wire, Image)
    assert out.data == data and isinstance(out.data, bytes)
