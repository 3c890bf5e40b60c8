"""An Inspire RH56 hand that speaks the real register protocol over a pseudo-terminal.

The driver under test opens ``emulator.port`` with pyserial exactly as it
would open ``/dev/ttyUSB0``, so the real driver code runs in tests, in the
link benchmark and on the virtual rig. Behind the register map sits a
pluggable :class:`~.plants.HandPlant` (first-order model by default; the virtual
rig plugs in the MuJoCo hand through :class:`~.plants.ClosurePlant`).

Fault injection (drop bytes, corrupt checksums, delay replies, error codes,
temperature, silence) is set through :attr:`InspireEmulator.faults` at any
time, from any thread.
"""

from __future__ import annotations

import os
import random
import select
import termios
import threading
import time
import tty
from collections import deque
from dataclasses import dataclass, field
from typing import Self

import numpy as np

from .emulator_registers import HandRegisters
from .plants import FirstOrderHandPlant, HandPlant
from .protocol import (
    BROADCAST_ID,
    CMD_READ,
    CMD_WRITE,
    WRITE_ACK_OK,
    Frame,
    FrameParser,
    Register,
    encode_frame,
)


@dataclass
class FaultConfig:
    """Knobs for misbehaviour. Probabilities are per reply unless noted."""

    drop_byte_prob: float = 0.0  # per reply byte: the byte never arrives
    corrupt_checksum_prob: float = 0.0  # reply sent with a wrong checksum
    garbage_prob: float = 0.0  # random bytes prepended to a reply
    reply_delay_s: float = 0.0  # extra latency before every reply
    silent: bool = False  # swallow requests, answer nothing
    seed: int | None = 0
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


@dataclass
class EmulatorStats:
    requests: int = 0
    replies: int = 0
    reads: int = 0
    writes: int = 0
    ignored: int = 0  # requests for another id or of an unknown command
    parser_garbage: int = 0
    parser_bad_checksums: int = 0
    rx_bytes: int = 0  # request bytes received (host -> hand)
    tx_bytes: int = 0  # reply bytes sent (hand -> host)
    collisions: int = 0  # half duplex: the host talked while the hand was answering (both garbled)


class InspireEmulator:
    """Serve the RH56 register map on a pty in a background thread.

    Use as a context manager::

        with InspireEmulator() as emu:
            hand = InspireHand(InspireHandConfig(port=emu.port))

    ``baudrate`` (None = as fast as the pty goes) paces the line: every request
    and reply byte costs 10 bits of time (8N1; 86.8 us at 115200), so link
    benchmarks measure what a real bus allows, not what a pty allows. A request
    counts as received when its last byte would have arrived, the hand answers
    ``turnaround_s`` after that (requests are served one at a time, in order),
    and the reply is delivered when its last byte would have arrived. Times are
    absolute (a line clock), so a late wake-up on a busy host does not add up.

    ``duplex``: ``"half"`` (2-wire RS-485, the RH56's default) is one shared
    line: a request that arrives while a reply is on the wire is a collision -
    the reply is garbled and the request lost (``stats.collisions``).
    ``"full"`` (RS-232 / RS-422) has one line per direction, so a host may
    send the next request while the hand is still answering (pipelining).
    """

    def __init__(
        self,
        plant: HandPlant | None = None,
        *,
        hand_id: int = 1,
        baudrate: int | None = None,
        turnaround_s: float = 0.0,
        faults: FaultConfig | None = None,
        duplex: str = "half",
    ) -> None:
        if duplex not in ("half", "full"):
            raise ValueError(f"duplex must be 'half' or 'full', got {duplex!r}")
        self.duplex = duplex
        self.hand_id = hand_id
        self.baudrate = baudrate
        self.turnaround_s = turnaround_s
        self.faults = faults or FaultConfig()
        self.stats = EmulatorStats()
        self.registers = HandRegisters(plant if plant is not None else FirstOrderHandPlant(), hand_id)
        self._lock = threading.RLock()
        self._master: int | None = None
        self._slave: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = -1, -1
        self.port = ""

    @property
    def plant(self) -> HandPlant:
        return self.registers.plant

    @property
    def mem(self) -> bytearray:
        """The raw register memory."""
        return self.registers.mem

    # ------------------------------------------------------------- lifecycle
    def start(self) -> Self:
        if self._thread is not None:
            return self
        master, slave = os.openpty()
        tty.setraw(slave, termios.TCSANOW)
        tty.setraw(master, termios.TCSANOW)
        self._master, self._slave = master, slave
        self.port = os.ttyname(slave)
        self._wake_r, self._wake_w = os.pipe()
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=f"inspire-emu-{self.hand_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the pty (idempotent)."""
        if self._thread is None:
            return
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=2.0)
        self._thread = None
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            if fd is not None and fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None
        self._wake_r = self._wake_w = -1

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------- fault/state knobs
    def set_error(self, dof: int, bits: int) -> None:
        """Raise error bits (ErrorBit) on one DoF; CLEAR_ERROR clears them."""
        with self._lock:
            self.registers.set_error(dof, bits)

    def set_temperature(self, celsius: np.ndarray | float) -> None:
        with self._lock:
            self.registers.set_temperature(celsius)

    def read_register(self, reg: Register) -> np.ndarray:
        """Current register contents (for tests), refreshed from the plant."""
        with self._lock:
            return self.registers.register(reg)

    def handle(self, req: Frame) -> bytes | None:
        """Reply bytes for one request (None: no reply), before fault injection."""
        with self._lock:
            if req.hand_id not in (self.hand_id, BROADCAST_ID):
                self.stats.ignored += 1
                return None
            if req.cmd == CMD_READ and len(req.data) == 1:
                self.stats.reads += 1
                data = self.registers.read(req.address, req.data[0])
                return encode_frame(self.hand_id, CMD_READ, req.address, data, reply=True)
            if req.cmd == CMD_WRITE and req.data:
                self.registers.write(req.address, req.data)
                self.stats.writes += 1
                if req.hand_id == BROADCAST_ID:
                    return None
                return encode_frame(self.hand_id, CMD_WRITE, req.address, bytes((WRITE_ACK_OK,)), reply=True)
            self.stats.ignored += 1
            return None

    # ------------------------------------------------------------- serving
    def _wire_time(self, nbytes: int) -> float:
        return 0.0 if not self.baudrate else nbytes * 10.0 / self.baudrate

    def _mangle(self, reply: bytes) -> bytes:
        f = self.faults
        rng = f.rng
        out = bytearray(reply)
        if f.corrupt_checksum_prob and rng.random() < f.corrupt_checksum_prob:
            out[-1] ^= 0x5A
        if f.drop_byte_prob:
            out = bytearray(b for b in out if rng.random() >= f.drop_byte_prob)
        if f.garbage_prob and rng.random() < f.garbage_prob:
            out[:0] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12)))
        return bytes(out)

    def _serve(self) -> None:
        """Event loop on a line clock: receive requests, serve them in order, deliver replies when due."""
        parser = FrameParser(replies=False)
        assert self._master is not None
        master = self._master
        line = _Line()
        while not self._stop.is_set():
            now = time.perf_counter()
            if line.reply is not None and now >= line.reply_due:
                self._deliver(master, line.reply)
                line.reply = None
            if line.reply is None and line.inbound:
                start = max(line.inbound[0][0], line.tx_free) + self.turnaround_s + self.faults.reply_delay_s
                if now >= start:
                    self._answer_next(line, max(now, start))
                    continue
                wake = start
            else:
                wake = line.reply_due if line.reply is not None else now + 0.5
            try:
                ready, _, _ = select.select([master, self._wake_r], [], [], max(0.0, wake - now))
            except (OSError, ValueError):
                return
            if self._wake_r in ready or self._stop.is_set():
                return
            if master in ready:
                self._take_requests(master, parser, line)

    def _deliver(self, master: int, reply: bytearray) -> None:
        try:
            os.write(master, bytes(reply))
            self.stats.replies += 1
            self.stats.tx_bytes += len(reply)
        except OSError:
            pass

    def _answer_next(self, line: _Line, begin: float) -> None:
        """Serve the oldest request; its reply goes on the wire at `begin`."""
        _, req = line.inbound.popleft()
        out = self.handle(req)  # the plant is sampled when the hand answers
        if out is None:
            return
        wire = bytearray(self._mangle(out))
        if self.duplex == "half" and line.rx_free > begin:
            # the host is still sending a later request: both talk at once
            self.stats.collisions += 1
            _garble(wire)
        line.reply, line.reply_due = wire, begin + self._wire_time(len(out))
        line.tx_free = line.reply_due

    def _take_requests(self, master: int, parser: FrameParser, line: _Line) -> None:
        """Read what the host sent; queue each request at the time its last byte arrives on the line."""
        try:
            chunk = os.read(master, 4096)
        except OSError:
            # EIO: no client has the slave open right now; wait and retry
            time.sleep(0.01)
            return
        t = time.perf_counter()
        self.stats.rx_bytes += len(chunk)
        if self.duplex == "half" and line.reply is not None and t < line.reply_due:
            # the host talked over the hand's answer: the reply is garbled, the request lost
            self.stats.collisions += 1
            _garble(line.reply)
            parser.feed(chunk)
            parser.reset()
            return
        line_free = max(line.rx_free, line.tx_free) if self.duplex == "half" else line.rx_free
        for req in parser.feed(chunk):
            self.stats.requests += 1
            if self.faults.silent:
                continue
            arrived = max(t, line_free) + self._wire_time(len(req.encode()))
            line_free = line.rx_free = arrived
            line.inbound.append((arrived, req))
        self.stats.parser_garbage = parser.garbage_bytes
        self.stats.parser_bad_checksums = parser.bad_checksums


@dataclass
class _Line:
    """The serving loop's view of the line (times in perf_counter seconds)."""

    inbound: deque[tuple[float, Frame]] = field(default_factory=deque)  # (time its last byte arrived, request)
    rx_free: float = 0.0  # host -> hand line busy until (the only line in half duplex: see tx_free)
    tx_free: float = 0.0  # hand -> host line busy until
    reply: bytearray | None = None  # the reply on the wire
    reply_due: float = 0.0  # when its last byte has arrived at the host


def _garble(wire: bytearray) -> None:
    """Two talkers at once: the second half of the reply arrives as zeros."""
    wire[len(wire) // 2 :] = bytes(len(wire) - len(wire) // 2)
