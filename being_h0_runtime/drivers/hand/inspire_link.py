"""The serial link to one Inspire hand: request/reply transactions with deadlines, retries and counters.

Every transaction has a reply deadline (wire time + ``timeout_s``) and
``retries`` retries after flushing stale input. On a full-duplex line
(RS-232 / RS-422 / 4-wire RS-485) a write can be *pipelined*: sent without
waiting, its acknowledgement collected while the next request is already on
the wire. Failures never raise: they are counted in :class:`LinkStats`, and
after ``fault_after`` consecutive failed transactions the link calls
``on_link_fault`` so the driver can latch a fault.

Not thread-safe on its own: the driver calls it under its lock.
"""

from __future__ import annotations

import termios
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import serial

from ..base import Diagnostic, DriverError
from .inspire_config import InspireHandConfig
from .protocol import (
    CMD_READ,
    CMD_WRITE,
    FRAME_OVERHEAD,
    WRITE_ACK_OK,
    Frame,
    FrameParser,
    encode_read,
    encode_write,
)

#: what a dropped, unplugged or misbehaving serial port raises
SERIAL_ERRORS = (serial.SerialException, OSError, termios.error)


@dataclass
class LinkStats:
    transactions: int = 0
    failed_transactions: int = 0
    retries: int = 0
    timeouts: int = 0
    bad_checksums: int = 0
    garbage_bytes: int = 0
    unexpected_frames: int = 0
    rejected_writes: int = 0  # hand answered a write with a non-OK ack
    refused_writes: int = 0  # not sent because a fault is latched
    skipped_writes: int = 0  # fast cycle: target unchanged since the hand acknowledged it
    angle_only_reads: int = 0  # fast cycle: status registers still fresh, read ANGLE_ACT alone
    io_errors: int = 0
    consecutive_failures: int = 0
    last_ok: float | None = None
    latencies_s: deque = field(default_factory=lambda: deque(maxlen=512))


@dataclass
class _PendingWrite:
    """A write sent on a full-duplex link whose acknowledgement has not been read yet."""

    request: bytes
    address: int
    data: bytes
    t0: float
    deadline: float


class InspireLink:
    """One hand's serial port and the transactions on it.

    ``on_write_ack(address, data, ok)`` is told the outcome of every write
    (``ok`` False: rejected or never acknowledged), also of a pipelined write
    settled later inside another transaction; ``on_link_fault(reason)`` fires
    on every failed transaction from the ``fault_after``-th in a row on;
    ``note(text)`` records a line for the driver's diagnostics.
    """

    def __init__(
        self,
        config: InspireHandConfig,
        *,
        clock: Callable[[], float],
        note: Callable[[str], None],
        on_write_ack: Callable[[int, bytes, bool], None],
        on_link_fault: Callable[[str], None],
    ) -> None:
        self.config = config  # the driver swaps it when its own config changes (see InspireHand.config)
        self.stats = LinkStats()
        self._clock = clock
        self._note = note
        self._on_write_ack = on_write_ack
        self._on_link_fault = on_link_fault
        self._ser: serial.Serial | None = None
        self._parser = FrameParser(replies=True)
        self.pending_write: _PendingWrite | None = None  # full duplex: ack not collected yet
        self._inbox: list[Frame] = []  # received frames not yet matched to a request

    # ------------------------------------------------------------------ the port
    @property
    def is_open(self) -> bool:
        return self._ser is not None and self._ser.is_open

    def open(self) -> None:
        try:
            self._ser = serial.Serial(
                self.config.port,
                baudrate=self.config.baudrate,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE,
                timeout=min(self.config.timeout_s, 0.005),
                write_timeout=max(0.1, self.config.timeout_s),
            )
        except (serial.SerialException, OSError, ValueError) as e:
            self._ser = None
            raise DriverError(f"cannot open Inspire hand port {self.config.port}: {e}") from e

    def close(self) -> None:
        """Collect a pipelined write's ack, then close the port (idempotent)."""
        self.settle_pending_write()
        if self._ser is not None:
            try:
                self._ser.close()
            except (OSError, serial.SerialException):
                pass
            self._ser = None

    def wire_time(self, nbytes: int) -> float:
        return nbytes * 10.0 / self.config.baudrate

    # ------------------------------------------------------------------ transactions
    def read(self, address: int, nbytes: int) -> Frame | None:
        """One register read; None after every attempt failed."""
        return self._transact(encode_read(self.config.hand_id, address, nbytes), CMD_READ, address, nbytes)

    def write(self, address: int, data: bytes) -> bool:
        """One register write, waiting for its acknowledgement; True if the hand accepted it."""
        frame = self._transact(encode_write(self.config.hand_id, address, data), CMD_WRITE, address, 1)
        return self._account_write(address, data, frame)

    def write_pipelined(self, address: int, data: bytes) -> None:
        """Full duplex: send a write and return; its ack is collected with the next transaction."""
        self.settle_pending_write()
        ser = self._ser
        if ser is None:
            return
        request = encode_write(self.config.hand_id, address, data)
        self.stats.transactions += 1
        t0 = time.perf_counter()
        try:
            self._flush_input()
            ser.write(request)
        except SERIAL_ERRORS as e:
            self._io_failed(e)
            self._account_write(address, data, None)
            return
        deadline = t0 + self.config.timeout_s + self.wire_time(len(request) + FRAME_OVERHEAD + 1)
        self.pending_write = _PendingWrite(request, address, data, t0, deadline)

    def settle_pending_write(self, *, extra_wire_bytes: int = 0) -> None:
        """Collect the outstanding pipelined write's ack (retrying the write if it does not come)."""
        pending, self.pending_write = self.pending_write, None
        if pending is None or self._ser is None:
            return
        try:
            frame = self._receive(
                CMD_WRITE, pending.address, 1, pending.t0, pending.deadline + self.wire_time(extra_wire_bytes)
            )
        except SERIAL_ERRORS as e:
            self._io_failed(e)
            self._account_write(pending.address, pending.data, None)
            return
        if frame is None:  # the remaining attempts, one at a time (a write is idempotent)
            frame = self._transact_sync(pending.request, CMD_WRITE, pending.address, 1, first_attempt=1)
        self._account_write(pending.address, pending.data, frame)

    def diagnostic(self) -> Diagnostic:
        """The link's health and counters (one diagnostics line)."""
        s = self.stats
        lat = np.array(s.latencies_s) * 1e3 if s.latencies_s else np.array([np.nan])
        level, msg = Diagnostic.OK, "link OK"
        if self._ser is None:
            level, msg = Diagnostic.STALE, "port closed"
        elif s.consecutive_failures >= self.config.fault_after:
            level, msg = Diagnostic.ERROR, f"no valid reply for {s.consecutive_failures} transactions"
        elif s.consecutive_failures or s.retries:
            level = Diagnostic.WARN if s.consecutive_failures else Diagnostic.OK
            msg = f"link OK with {s.retries} retries so far"
        counters = ("transactions", "failed_transactions", "retries", "timeouts", "bad_checksums", "garbage_bytes",
                    "unexpected_frames", "rejected_writes", "refused_writes", "io_errors", "consecutive_failures")
        values = {"port": self.config.port, "hand_id": str(self.config.hand_id), "baudrate": str(self.config.baudrate)}
        values |= {name: str(getattr(s, name)) for name in counters}
        values |= {"txn_p50_ms": f"{np.nanpercentile(lat, 50):.2f}", "txn_p99_ms": f"{np.nanpercentile(lat, 99):.2f}"}
        return Diagnostic(level, "inspire_hand: link", msg, values)

    # ------------------------------------------------------------------ internals
    def _account_write(self, address: int, data: bytes, frame: Frame | None) -> bool:
        """Count a write's acknowledgement (None: never came) and tell the driver."""
        ok = frame is not None and frame.data[0] == WRITE_ACK_OK
        if frame is not None and not ok:
            self.stats.rejected_writes += 1
            self._note(f"hand rejected write to {address} (ack 0x{frame.data[0]:02x})")
        self._on_write_ack(address, data, ok)
        return ok

    def _transact(self, request: bytes, cmd: int, address: int, ndata: int) -> Frame | None:
        """Send ``request``, wait for the matching reply; retry; account for failures."""
        if self.pending_write is not None:
            if self.config.duplex == "full" and self._ser is not None:
                return self._transact_behind_write(request, cmd, address, ndata)
            self.settle_pending_write()
        self.stats.transactions += 1
        return self._transact_sync(request, cmd, address, ndata)

    def _transact_behind_write(self, request: bytes, cmd: int, address: int, ndata: int) -> Frame | None:
        """Pipelined: this request goes out now, while the hand is still acknowledging the pending write."""
        assert self._ser is not None
        t0 = time.perf_counter()
        try:
            self._ser.write(request)
        except SERIAL_ERRORS:
            self.settle_pending_write()
            self.stats.transactions += 1
            return self._transact_sync(request, cmd, address, ndata)
        self.stats.transactions += 1
        self.settle_pending_write(extra_wire_bytes=len(request))
        deadline = t0 + self.config.timeout_s + self.wire_time(2 * FRAME_OVERHEAD + 1 + len(request) + ndata)
        try:
            frame = self._receive(cmd, address, ndata, t0, deadline)
        except SERIAL_ERRORS as e:
            self._io_failed(e)
            return None
        if frame is not None:
            return frame
        return self._transact_sync(request, cmd, address, ndata, first_attempt=1)

    def _flush_input(self) -> None:
        """Drop stale bytes and frames: they must not match a new request."""
        assert self._ser is not None
        self._ser.reset_input_buffer()
        self._parser.reset()
        self.stats.unexpected_frames += len(self._inbox)
        self._inbox.clear()

    def _receive(self, cmd: int, address: int, ndata: int, t0: float, deadline: float) -> Frame | None:
        """Wait until ``deadline`` for the reply to (cmd, address); other valid frames wait in the inbox."""
        ser = self._ser
        assert ser is not None
        expect = FRAME_OVERHEAD + ndata
        while True:
            frame = self._take_reply(cmd, address, ndata)
            if frame is None:
                need = max(1, expect - self._parser.pending)
                chunk = ser.read(need)  # at least one read, even past the deadline: the reply may be waiting
                if chunk:
                    g0, c0 = self._parser.garbage_bytes, self._parser.bad_checksums
                    self._inbox.extend(self._parser.feed(chunk))
                    self.stats.garbage_bytes += self._parser.garbage_bytes - g0
                    self.stats.bad_checksums += self._parser.bad_checksums - c0
                    frame = self._take_reply(cmd, address, ndata)
            if frame is not None:
                self.stats.latencies_s.append(time.perf_counter() - t0)
                self.stats.consecutive_failures = 0
                self.stats.last_ok = self._clock()
                return frame
            if time.perf_counter() >= deadline:
                self.stats.timeouts += 1
                return None

    def _take_reply(self, cmd: int, address: int, ndata: int) -> Frame | None:
        for i, f in enumerate(self._inbox):
            if f.cmd == cmd and f.address == address and f.hand_id == self.config.hand_id and len(f.data) == ndata:
                del self._inbox[i]
                return f
        if len(self._inbox) > 4:  # frames nobody asked for (late replies to abandoned requests)
            self.stats.unexpected_frames += len(self._inbox) - 4
            del self._inbox[:-4]
        return None

    def _transact_sync(
        self, request: bytes, cmd: int, address: int, ndata: int, *, first_attempt: int = 0
    ) -> Frame | None:
        """Attempts ``first_attempt`` .. ``retries`` of one request, one at a time."""
        ser = self._ser
        if ser is None:
            return None
        expect = FRAME_OVERHEAD + ndata
        for attempt in range(first_attempt, self.config.retries + 1):
            if attempt:
                self.stats.retries += 1
            t0 = time.perf_counter()
            try:
                if attempt == 0:
                    # stale bytes from an earlier transaction must not match this one; on a retry
                    # keep them: a late reply to the same (idempotent) request is still the answer
                    self._flush_input()
                ser.write(request)
                deadline = t0 + self.config.timeout_s + self.wire_time(len(request) + expect)
                frame = self._receive(cmd, address, ndata, t0, deadline)
                if frame is not None:
                    return frame
            except SERIAL_ERRORS as e:
                self.stats.io_errors += 1
                self._note(f"serial I/O error: {e}")
                break
        self._finish_failed_transaction()
        return None

    def _io_failed(self, error: BaseException) -> None:
        self.stats.io_errors += 1
        self._note(f"serial I/O error: {error}")
        self._finish_failed_transaction()

    def _finish_failed_transaction(self) -> None:
        self.stats.failed_transactions += 1
        self.stats.consecutive_failures += 1
        if self.stats.consecutive_failures >= self.config.fault_after:
            self._on_link_fault(
                f"link: no valid reply from Inspire hand id {self.config.hand_id} on {self.config.port} "
                f"for {self.stats.consecutive_failures} consecutive transactions"
            )
