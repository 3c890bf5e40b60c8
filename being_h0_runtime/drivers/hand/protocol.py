"""Inspire RH56 serial register protocol (RS-485 / RS-232, 8N1).

Wire format, as given in the RH56 series user manual and used by public drivers:

    host -> hand   EB 90 | id | len | cmd | addr_lo addr_hi | data ... | checksum
    hand -> host   90 EB | id | len | cmd | addr_lo addr_hi | data ... | checksum

* ``cmd`` is 0x11 (read registers) or 0x12 (write registers).
* ``len`` counts the bytes after itself up to (not including) the checksum,
  i.e. ``1 (cmd) + 2 (addr) + len(data)``.
* ``checksum`` is the low byte of the sum of every byte from ``id`` to the last
  data byte (the two header bytes are *not* included).
* A read request carries one data byte: the number of register *bytes* to
  read. Its reply carries those bytes.
* A write request carries the bytes to store. Its reply carries one byte,
  0x01 on success.
* Register addresses are byte addresses; multi-DoF registers are six
  little-endian 16-bit values in DoF order little, ring, middle, index,
  thumb-bend, thumb-rotation. In set registers 0xFFFF (-1) means "leave this
  DoF unchanged".

Nothing here touches a serial port: the encoder/decoder and the streaming
parser are pure so that the driver, the emulator and the tests share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

# The register map and value ranges are facts of the hand (rig/inspire.py); re-exported here
# because the driver, the emulator and the tests speak of them together with the wire format.
from ...rig.inspire import (  # noqa: F401
    BAUD_CODES,
    NUM_DOF,
    RAW_MAX,
    RAW_MIN,
    REGISTERS,
    Access,
    ErrorBit,
    Register,
    RegisterInfo,
    Status,
)

REQUEST_HEADER = b"\xeb\x90"
REPLY_HEADER = b"\x90\xeb"
CMD_READ = 0x11
CMD_WRITE = 0x12
WRITE_ACK_OK = 0x01

RAW_UNCHANGED = 0xFFFF  # -1 as int16: "keep this DoF's current target"
BROADCAST_ID = 0xFF

#: Bytes in a frame that are not data: 2 header + id + len + cmd + 2 addr + checksum.
FRAME_OVERHEAD = 8
#: ``len`` is one byte and includes cmd + addr, so at most 252 data bytes fit.
MAX_DATA_BYTES = 0xFF - 3


class ProtocolError(ValueError):
    """A frame could not be built or interpreted (bad argument or bad reply)."""


def describe_error(bits: int) -> str:
    """Human-readable names of the set error bits, e.g. 'STALL|OVER_TEMPERATURE'."""
    if bits == 0:
        return "OK"
    names = [b.name for b in ErrorBit if bits & b and b.name]
    unknown = bits & ~sum(int(b) for b in ErrorBit)
    if unknown:
        names.append(f"0x{unknown:02x}")
    return "|".join(str(n) for n in names)


# ------------------------------------------------------------------ frames


def checksum(body: bytes | bytearray | memoryview) -> int:
    """Low byte of the sum of ``body`` (id .. last data byte)."""
    return sum(body) & 0xFF


@dataclass(frozen=True)
class Frame:
    """One decoded frame in either direction."""

    hand_id: int
    cmd: int
    address: int
    data: bytes
    is_reply: bool = False

    def encode(self) -> bytes:
        return encode_frame(self.hand_id, self.cmd, self.address, self.data, reply=self.is_reply)

    @property
    def read_length(self) -> int:
        """For a read request: the number of register bytes asked for."""
        if self.cmd != CMD_READ or self.is_reply or len(self.data) != 1:
            raise ProtocolError("read_length only applies to read requests with one data byte")
        return self.data[0]


def encode_frame(hand_id: int, cmd: int, address: int, data: bytes = b"", *, reply: bool = False) -> bytes:
    """Build one complete frame (header, body, checksum)."""
    if not 0 <= hand_id <= 0xFF:
        raise ProtocolError(f"hand_id {hand_id} outside 0..255")
    if not 0 <= cmd <= 0xFF:
        raise ProtocolError(f"cmd {cmd} outside 0..255")
    if not 0 <= address <= 0xFFFF:
        raise ProtocolError(f"register address {address} outside 0..65535")
    if len(data) > MAX_DATA_BYTES:
        raise ProtocolError(f"{len(data)} data bytes exceed the {MAX_DATA_BYTES}-byte frame limit")
    body = bytes((hand_id, 3 + len(data), cmd, address & 0xFF, address >> 8)) + bytes(data)
    return (REPLY_HEADER if reply else REQUEST_HEADER) + body + bytes((checksum(body),))


def encode_read(hand_id: int, address: int, nbytes: int) -> bytes:
    """Read request for ``nbytes`` register bytes starting at ``address``."""
    if not 1 <= nbytes <= MAX_DATA_BYTES:
        raise ProtocolError(f"read length {nbytes} outside 1..{MAX_DATA_BYTES}")
    return encode_frame(hand_id, CMD_READ, address, bytes((nbytes,)))


def encode_write(hand_id: int, address: int, data: bytes) -> bytes:
    """Write request storing ``data`` from ``address`` on."""
    if not data:
        raise ProtocolError("a write needs at least one data byte")
    return encode_frame(hand_id, CMD_WRITE, address, data)


def reply_length(request: Frame) -> int:
    """Total length in bytes of the reply a well-behaved hand sends to ``request``."""
    if request.cmd == CMD_READ:
        return FRAME_OVERHEAD + request.read_length
    return FRAME_OVERHEAD + 1


def pack_u16(values: Iterable[float | int]) -> bytes:
    """Pack DoF values as little-endian uint16; -1 (or NaN) becomes 0xFFFF = unchanged."""
    out = bytearray()
    for v in values:
        if isinstance(v, float) and np.isnan(v):
            iv = RAW_UNCHANGED
        else:
            iv = int(round(float(v)))
            if iv == -1:
                iv = RAW_UNCHANGED
        if not 0 <= iv <= 0xFFFF:
            raise ProtocolError(f"register value {v} does not fit a uint16 (use -1 for 'unchanged')")
        out += bytes((iv & 0xFF, iv >> 8))
    return bytes(out)


def unpack_u16(data: bytes, signed: bool = False) -> np.ndarray:
    """Little-endian 16-bit values -> int64 array (signed keeps -1 as -1)."""
    if len(data) % 2:
        raise ProtocolError(f"odd number of bytes ({len(data)}) for 16-bit registers")
    return np.frombuffer(data, dtype="<i2" if signed else "<u2").astype(np.int64)


def encode_register_values(reg: Register, values: Sequence[float | int]) -> bytes:
    """Encode values for a register group, checking the count against the map."""
    info = REGISTERS[reg]
    if len(values) != info.count:
        raise ProtocolError(f"{reg.name} takes {info.count} values, got {len(values)}")
    if info.width == 2:
        return pack_u16(values)
    out = bytearray()
    for v in values:
        iv = int(v)
        if not 0 <= iv <= 0xFF:
            raise ProtocolError(f"{reg.name} value {v} outside 0..255")
        out.append(iv)
    return bytes(out)


def decode_register_values(reg: Register, data: bytes) -> np.ndarray:
    """Decode a register group's bytes into an int64 array."""
    info = REGISTERS[reg]
    if len(data) != info.size:
        raise ProtocolError(f"{reg.name} needs {info.size} bytes, got {len(data)}")
    if info.width == 2:
        return unpack_u16(data, signed=info.signed)
    return np.frombuffer(data, dtype=np.uint8).astype(np.int64)


# ------------------------------------------------------------------ parser


class FrameParser:
    """Streaming decoder that survives garbage, partial frames and bit errors.

    Feed it whatever bytes arrive; it returns the complete, checksum-valid
    frames and keeps a partial frame for the next call. On a bad checksum or an
    impossible length it skips only the first header byte and searches again,
    so a real frame hiding inside rejected bytes is still found.
    """

    #: Smallest valid ``len``: cmd + addr (a frame with no data).
    MIN_LEN = 3

    def __init__(self, *, replies: bool = True, max_buffer: int = 4096) -> None:
        self.header = REPLY_HEADER if replies else REQUEST_HEADER
        self.is_reply = replies
        self.max_buffer = max_buffer
        self._buf = bytearray()
        self.garbage_bytes = 0
        self.bad_checksums = 0
        self.frames = 0

    def reset(self) -> None:
        """Forget any partial frame (e.g. after a timeout, before a new request)."""
        self.garbage_bytes += len(self._buf)
        self._buf.clear()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes | bytearray) -> list[Frame]:
        self._buf += data
        out: list[Frame] = []
        buf = self._buf
        while True:
            start = buf.find(self.header)
            if start < 0:
                # keep a trailing first header byte: it may start the next frame
                keep = 1 if buf[-1:] == self.header[:1] else 0
                self.garbage_bytes += len(buf) - keep
                del buf[: len(buf) - keep]
                break
            if start:
                self.garbage_bytes += start
                del buf[:start]
            if len(buf) < 4:
                break
            length = buf[3]
            if length < self.MIN_LEN:
                self.garbage_bytes += 1
                del buf[:1]
                continue
            total = 4 + length + 1
            if len(buf) < total:
                if len(buf) > self.max_buffer:
                    self.garbage_bytes += 1
                    del buf[:1]
                    continue
                break
            body = bytes(buf[2 : total - 1])
            if checksum(body) != buf[total - 1]:
                self.bad_checksums += 1
                self.garbage_bytes += 1
                del buf[:1]
                continue
            out.append(
                Frame(
                    hand_id=body[0],
                    cmd=body[2],
                    address=body[3] | (body[4] << 8),
                    data=body[5:],
                    is_reply=self.is_reply,
                )
            )
            self.frames += 1
            del buf[:total]
        return out


def parse_one(data: bytes, *, reply: bool = True) -> Frame:
    """Decode exactly one frame (tests, tools); raises ProtocolError otherwise."""
    parser = FrameParser(replies=reply)
    frames = parser.feed(data)
    if len(frames) != 1 or parser.pending or parser.garbage_bytes:
        raise ProtocolError(f"expected exactly one clean frame in {data.hex(' ')}")
    return frames[0]
