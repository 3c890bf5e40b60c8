"""Inspire RH56 register protocol: golden frames, checksum, streaming parser robustness."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from being_h0_runtime.drivers.hand.protocol import (
    CMD_READ,
    CMD_WRITE,
    REGISTERS,
    ErrorBit,
    Frame,
    FrameParser,
    ProtocolError,
    Register,
    checksum,
    decode_register_values,
    describe_error,
    encode_frame,
    encode_read,
    encode_register_values,
    encode_write,
    pack_u16,
    parse_one,
    reply_length,
    unpack_u16,
)

# Hand-computed from the manual's frame description (sum id..data, low byte).
GOLDEN_READ_ANGLE_ACT = bytes.fromhex("eb 90 01 04 11 0a 06 0c 32")
GOLDEN_WRITE_ANGLE_OPEN = bytes.fromhex("eb 90 01 0f 12 ce 05" + " e8 03" * 6 + " 77")
GOLDEN_CLEAR_ERROR = bytes.fromhex("eb 90 01 04 12 ec 03 01 07")
GOLDEN_WRITE_ACK = bytes.fromhex("90 eb 01 04 12 ce 05 01 eb")


def test_register_addresses_match_manual() -> None:
    expected = {
        "HAND_ID": 1000,
        "CLEAR_ERROR": 1004,
        "GESTURE_FORCE_CLB": 1009,
        "POS_SET": 1474,
        "ANGLE_SET": 1486,
        "FORCE_SET": 1498,
        "SPEED_SET": 1522,
        "POS_ACT": 1534,
        "ANGLE_ACT": 1546,
        "FORCE_ACT": 1582,
        "CURRENT": 1594,
        "ERROR": 1606,
        "STATUS": 1612,
        "TEMP": 1618,
    }
    for name, addr in expected.items():
        assert int(Register[name]) == addr
    assert REGISTERS[Register.ANGLE_SET].size == 12
    assert REGISTERS[Register.ERROR].size == 6
    # groups must not overlap: a merged block read depends on it
    spans = sorted((i.address, i.end, i.name) for i in REGISTERS.values())
    for (a0, e0, n0), (a1, _, n1) in zip(spans, spans[1:]):
        assert e0 <= a1, f"{n0} overlaps {n1}"


def test_golden_request_frames() -> None:
    assert encode_read(1, Register.ANGLE_ACT, 12) == GOLDEN_READ_ANGLE_ACT
    assert encode_write(1, Register.ANGLE_SET, pack_u16([1000] * 6)) == GOLDEN_WRITE_ANGLE_OPEN
    assert encode_write(1, Register.CLEAR_ERROR, b"\x01") == GOLDEN_CLEAR_ERROR
    assert encode_frame(1, CMD_WRITE, Register.ANGLE_SET, b"\x01", reply=True) == GOLDEN_WRITE_ACK


def test_len_field_counts_cmd_addr_and_data() -> None:
    frame = encode_write(3, 0x1234, b"\xaa\xbb\xcc")
    assert frame[3] == 1 + 2 + 3
    assert len(frame) == 2 + 1 + 1 + frame[3] + 1
    assert frame[-1] == checksum(frame[2:-1])
    assert frame[5:7] == b"\x34\x12"  # address little-endian


def test_golden_reply_decodes() -> None:
    f = parse_one(GOLDEN_WRITE_ACK)
    assert f == Frame(hand_id=1, cmd=CMD_WRITE, address=1486, data=b"\x01", is_reply=True)
    req = parse_one(GOLDEN_READ_ANGLE_ACT, reply=False)
    assert req.read_length == 12
    assert reply_length(req) == 20


def test_checksum_low_byte() -> None:
    assert checksum(b"\xff\x02") == 0x01
    assert checksum(b"") == 0


def test_minus_one_and_nan_mean_unchanged() -> None:
    data = pack_u16([-1, float("nan"), 0, 1000, 500.4, 999.6])
    assert data[:4] == b"\xff\xff\xff\xff"
    np.testing.assert_array_equal(unpack_u16(data), [0xFFFF, 0xFFFF, 0, 1000, 500, 1000])
    np.testing.assert_array_equal(unpack_u16(data, signed=True)[:2], [-1, -1])
    with pytest.raises(ProtocolError):
        pack_u16([70000])


def test_register_value_codec_checks_counts() -> None:
    raw = encode_register_values(Register.TEMP, [30, 31, 32, 33, 34, 35])
    np.testing.assert_array_equal(decode_register_values(Register.TEMP, raw), [30, 31, 32, 33, 34, 35])
    with pytest.raises(ProtocolError, match="ANGLE_SET takes 6"):
        encode_register_values(Register.ANGLE_SET, [1, 2, 3])
    with pytest.raises(ProtocolError):
        decode_register_values(Register.FORCE_ACT, b"\x00" * 11)
    assert decode_register_values(Register.FORCE_ACT, pack_u16([-1] * 6))[0] == -1  # signed register


def test_bad_arguments_raise() -> None:
    with pytest.raises(ProtocolError):
        encode_read(1, 1546, 0)
    with pytest.raises(ProtocolError):
        encode_write(1, 1546, b"")
    with pytest.raises(ProtocolError):
        encode_frame(300, CMD_READ, 0, b"\x01")
    with pytest.raises(ProtocolError):
        encode_frame(1, CMD_WRITE, 0, b"\x00" * 253)


def test_describe_error() -> None:
    assert describe_error(0) == "OK"
    assert describe_error(int(ErrorBit.STALL | ErrorBit.OVER_TEMPERATURE)) == "STALL|OVER_TEMPERATURE"
    assert "0x80" in describe_error(0x80)


def test_parser_resyncs_on_garbage_and_partial_frames() -> None:
    p = FrameParser(replies=True)
    stream = b"\x00\x90\x13\x90" + GOLDEN_WRITE_ACK + b"\xeb\xeb\x90" + GOLDEN_WRITE_ACK
    out: list[Frame] = []
    for i in range(0, len(stream), 3):  # arrives in 3-byte pieces
        out += p.feed(stream[i : i + 3])
    assert len(out) == 2
    assert p.garbage_bytes == 4 + 3
    # a partial frame stays pending until the rest arrives
    assert p.feed(GOLDEN_WRITE_ACK[:5]) == []
    assert p.pending == 5
    assert len(p.feed(GOLDEN_WRITE_ACK[5:])) == 1


def test_parser_rejects_bad_checksum_but_finds_following_frame() -> None:
    bad = bytearray(GOLDEN_WRITE_ACK)
    bad[-1] ^= 0xFF
    p = FrameParser(replies=True)
    frames = p.feed(bytes(bad) + GOLDEN_WRITE_ACK)
    assert len(frames) == 1 and frames[0].data == b"\x01"
    assert p.bad_checksums == 1


def test_parser_finds_frame_hidden_inside_a_truncated_one() -> None:
    # header + a length that claims more bytes than the truncated frame has:
    # the real frame that follows must still be found once the bogus one fails its checksum
    truncated = GOLDEN_WRITE_ACK[:4].replace(b"\x04", b"\x09")
    p = FrameParser(replies=True)
    frames = p.feed(truncated + GOLDEN_WRITE_ACK + GOLDEN_WRITE_ACK)
    assert len(frames) == 2
    assert all(f.data == b"\x01" for f in frames)
    assert p.bad_checksums == 1


def test_parser_direction_filter() -> None:
    assert FrameParser(replies=True).feed(GOLDEN_READ_ANGLE_ACT) == []
    assert len(FrameParser(replies=False).feed(GOLDEN_READ_ANGLE_ACT)) == 1


frames_st = st.builds(
    Frame,
    hand_id=st.integers(0, 255),
    cmd=st.sampled_from([CMD_READ, CMD_WRITE]),
    address=st.integers(0, 0xFFFF),
    data=st.binary(min_size=0, max_size=60),
    is_reply=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(frames_st)
def test_random_frames_round_trip(frame: Frame) -> None:
    assert parse_one(frame.encode(), reply=frame.is_reply) == frame


@settings(max_examples=100, deadline=None)
@given(st.lists(frames_st.map(lambda f: Frame(f.hand_id, f.cmd, f.address, f.data, True)), max_size=5),
       st.lists(st.binary(max_size=20), max_size=6), st.integers(1, 17))
def test_frames_survive_interleaved_garbage(frames: list[Frame], junk: list[bytes], chunk: int) -> None:
    # garbage without the header cannot fake a frame; frames between it must all come out, in order
    junk = [j.replace(b"\x90", b"\x00") for j in junk]
    stream = b""
    for i, f in enumerate(frames):
        stream += (junk[i] if i < len(junk) else b"") + f.encode()
    p = FrameParser(replies=True)
    out: list[Frame] = []
    for i in range(0, len(stream), chunk):
        out += p.feed(stream[i : i + chunk])
    assert out == frames


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(1, 64))
def test_random_garbage_never_crashes_parser(data: bytes, chunk: int) -> None:
    p = FrameParser(replies=True)
    for i in range(0, len(data), chunk):
        for f in p.feed(data[i : i + chunk]):
            # anything it does return is a self-consistent frame
            assert parse_one(f.encode()) == f
    assert p.pending <= 260
