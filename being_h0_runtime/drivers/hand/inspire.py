"""Inspire RH56 hand driver over RS-485 (pyserial), speaking the register protocol.

One control cycle costs two transactions at most. ``cycle`` picks how:

* ``legacy`` - ``read()`` is one read spanning ANGLE_ACT .. TEMP (78 bytes:
  angle, force, current, error, status, temperature); ``write()`` sends
  ANGLE_SET every call.
* ``fast`` (default) - ``read()`` reads the whole 78-byte span only when the
  status registers are older than ``status_period_s`` (0 = every read, the
  default, so fault detection is as prompt as ``legacy``), otherwise just
  ANGLE_ACT (12 bytes); ``write()`` sends ANGLE_SET only when the target
  differs from what the hand acknowledged (and at least every
  ``rewrite_period_s``). With ``duplex: full`` (RS-232 / RS-422 / 4-wire
  RS-485) the write's acknowledgement is collected while the next request is
  already on the wire (pipelined); on 2-wire RS-485 (half duplex, the RH56's
  default) that would talk over the hand, so the driver waits for it.

Byte budget at 115200 baud (86.8 us/byte, 8N1): a full-span read costs 9 + 86
bytes, an angle-only read 9 + 20, an ANGLE_SET write 20 + 9, plus the hand's
turnaround per transaction. ANGLE_ACT and FORCE_ACT are not adjacent (24
reserved bytes between them at 1558..1581), so reading both costs a 48-byte
span; forces come with the periodic status span instead, unless ``fast_forces``
asks for that span on every read. In both modes
SPEED_SET / FORCE_SET are written only when they change (FORCE_SET extends an
ANGLE_SET write: adjacent registers, one transaction).

Link failures never raise out of ``read``/``write``: every transaction has a
reply deadline (wire time + ``timeout_s``) and ``retries`` retries after
flushing stale input; after ``fault_after`` consecutive failed transactions the
driver latches ``HandState.fault``. Hand error bits and over-temperature latch
it too. While latched, ``write`` refuses to send (and says so in
``diagnostics()``); only ``recover()`` (operator request) clears it, and it
re-targets the hand to where it *is* so nothing moves on its own.
"""

from __future__ import annotations

import termios
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Callable, Literal

import numpy as np
import serial
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..base import HAND_DOF_NAMES, Diagnostic, DriverError, HandCommand, HandDriver, HandState, LifecycleState
from .calibration import HandCalibration, RawVector
from .protocol import (
    BAUD_CODES,
    CMD_READ,
    CMD_WRITE,
    FRAME_OVERHEAD,
    MAX_DATA_BYTES,
    NUM_DOF,
    RAW_MAX,
    RAW_UNCHANGED,
    REGISTERS,
    WRITE_ACK_OK,
    ErrorBit,
    Frame,
    FrameParser,
    Register,
    Status,
    decode_register_values,
    describe_error,
    encode_read,
    encode_write,
    pack_u16,
    unpack_u16,
)

#: Register groups one state read needs, in the order they sit in memory.
STATE_REGISTERS: tuple[Register, ...] = (
    Register.ANGLE_ACT,
    Register.FORCE_ACT,
    Register.CURRENT,
    Register.ERROR,
    Register.STATUS,
    Register.TEMP,
)

Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class InspireHandConfig(BaseModel):
    """Link and behaviour settings for one hand (validated; unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid")

    port: str = Field(description="serial device, e.g. /dev/ttyUSB0 or an emulator's pty")
    baudrate: int = 115200
    hand_id: int = Field(1, ge=1, le=254)
    timeout_s: float = Field(
        0.05, gt=0.0, le=5.0, description="reply deadline beyond the bytes' wire time (USB adapters add latency)"
    )
    retries: int = Field(2, ge=0, le=10, description="extra attempts per transaction")
    fault_after: int = Field(3, ge=1, description="consecutive failed transactions that latch a fault")
    open_raw: RawVector = (RAW_MAX,) * NUM_DOF
    closed_raw: RawVector = (0,) * NUM_DOF
    default_speed: Unit = 1.0
    default_force: Unit = 0.5
    batch_read: bool = Field(True, description="legacy cycle: read all state registers in one transaction")
    cycle: Literal["legacy", "fast"] = Field(
        "fast", description="legacy: full state span + write every cycle; fast: see the module docstring"
    )
    duplex: Literal["half", "full"] = Field(
        "half", description="half: 2-wire RS-485 (one talker at a time); full: RS-232/RS-422, requests pipelined"
    )
    status_period_s: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="fast cycle: re-read force/current/error/status/temperature at most this old (0 = every read)",
    )
    rewrite_period_s: float = Field(
        0.25, gt=0.0, description="fast cycle: re-send an unchanged angle target at least this often"
    )
    fast_forces: bool = Field(
        False,
        description="fast cycle: fresh FORCE_ACT on every read too (one ANGLE_ACT..FORCE_ACT span, 48 bytes: "
        "the 24 reserved bytes between them ride along) instead of with the status span",
    )
    max_read_bytes: int = Field(96, ge=12, le=MAX_DATA_BYTES)
    temp_warn_c: float = 60.0
    temp_fault_c: float = 75.0
    fault_error_mask: int = Field(
        int(ErrorBit.STALL | ErrorBit.OVER_TEMPERATURE | ErrorBit.OVER_CURRENT | ErrorBit.MOTOR_ABNORMAL),
        ge=0,
        le=0xFF,
        description="ERROR register bits that latch a fault",
    )

    @field_validator("baudrate")
    @classmethod
    def _known_baud(cls, v: int) -> int:
        if v not in BAUD_CODES.values():
            raise ValueError(f"baudrate {v} not supported by the hand; use one of {sorted(BAUD_CODES.values())}")
        return v

    @property
    def calibration(self) -> HandCalibration:
        return HandCalibration(open_raw=self.open_raw, closed_raw=self.closed_raw)

    def with_calibration(self, cal: HandCalibration) -> "InspireHandConfig":
        return self.model_copy(update={"open_raw": cal.open_raw, "closed_raw": cal.closed_raw})

    @classmethod
    def from_yaml(cls, path: str | Path) -> "InspireHandConfig":
        """Load a config file; a bad value raises one ValueError naming file and field."""
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text()) or {}
            return cls.model_validate(data)
        except OSError as e:
            raise ValueError(f"{p}: cannot read hand config ({e.strerror})") from e
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            raise ValueError(f"{p}: field '{loc}': {err['msg']}") from e


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


class InspireHand(HandDriver):
    """RH56 hand over a serial link. See module docstring for the cycle budget."""

    def __init__(self, config: InspireHandConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.cal = config.calibration
        self._clock = clock
        self._ser: serial.Serial | None = None
        self._parser = FrameParser(replies=True)
        self._lock = threading.RLock()
        self.stats = LinkStats()
        self._fault: str | None = None
        self._last_raw = np.full(NUM_DOF, np.nan)
        self._state = HandState(stamp=0.0, position=np.full(NUM_DOF, np.nan))
        self._status = np.zeros(NUM_DOF, dtype=np.int64)
        self._current = np.zeros(NUM_DOF)
        self._sent_speed: np.ndarray | None = None
        self._sent_force: np.ndarray | None = None
        self._notes: deque[str] = deque(maxlen=8)
        self._read_plan = self._plan_reads()
        self._status_read_at = -np.inf  # perf_counter of the last full-span read (fast cycle)
        self._acked_angle: np.ndarray | None = None  # raw ANGLE_SET the hand acknowledged (NaN = unknown)
        self._acked_at = -np.inf
        self._pending_write: _PendingWrite | None = None  # full duplex: ack not collected yet
        self._inbox: list[Frame] = []  # received frames not yet matched to a request

    @property
    def driver_name(self) -> str:
        return f"InspireHand id {self.config.hand_id} on {self.config.port}"

    # ================================================================ lifecycle steps (order enforced by HandDriver)
    def _on_configure(self) -> None:
        """Open the port and check that hand ``hand_id`` answers (DriverError if not)."""
        with self._lock:
            self._open_port()
            frame = self._transact_read(Register.HAND_ID, 1)
            if frame is None:
                port = self.config.port
                self._close_port()
                raise DriverError(
                    f"Inspire hand id {self.config.hand_id} did not answer on {port} at {self.config.baudrate} baud "
                    f"({self.stats.timeouts} timeouts, {self.stats.bad_checksums} bad checksums); "
                    "check power, wiring, id and baud rate"
                )

    def _on_activate(self) -> None:
        """Apply default speed/force, target the current pose, start accepting commands."""
        with self._lock:
            self._write_speed_force(
                np.full(NUM_DOF, self.config.default_speed), np.full(NUM_DOF, self.config.default_force)
            )
            self._hold_position()

    def flush(self) -> bool:
        """Collect the acknowledgement of a pipelined write still on the wire; False if it was lost."""
        with self._lock:
            failed = self.stats.failed_transactions
            self._settle_pending_write()
            return self.stats.failed_transactions == failed

    def _on_close(self) -> None:
        with self._lock:
            self._settle_pending_write()
            self._close_port()

    def _close_port(self) -> None:
        with self._lock:
            if self._ser is not None:
                try:
                    self._ser.close()
                except (OSError, serial.SerialException):
                    pass
                self._ser = None

    # ================================================================ cycle
    def _read_state(self) -> HandState:
        """Latest state; on link trouble the last good values with ``fault`` set when latched."""
        with self._lock:
            regs = self._read_state_registers()
            now = self._clock()
            if regs is not None and Register.STATUS not in regs:  # fast cycle, status still fresh
                angle = regs[Register.ANGLE_ACT].astype(float)
                self._last_raw = angle
                fresh_force = regs.get(Register.FORCE_ACT)
                self._state = HandState(
                    stamp=now,
                    position=self.cal.to_closure(angle),
                    force=self._state.force if fresh_force is None else fresh_force.astype(float),
                    error=self._state.error,
                    temperature=self._state.temperature,
                )
            elif regs is not None:
                angle = regs[Register.ANGLE_ACT].astype(float)
                self._last_raw = angle
                self._status = regs[Register.STATUS]
                self._current = regs[Register.CURRENT].astype(float)
                self._state = HandState(
                    stamp=now,
                    position=self.cal.to_closure(angle),
                    force=regs[Register.FORCE_ACT].astype(float),
                    error=regs[Register.ERROR].astype(np.int64),
                    temperature=regs[Register.TEMP].astype(float),
                )
                self._check_hand_faults()
            state = HandState(
                stamp=self._state.stamp if regs is None else now,
                position=self._state.position.copy(),
                force=self._state.force.copy(),
                error=self._state.error.copy(),
                temperature=self._state.temperature.copy(),
                fault=self._fault,
            )
            return state

    def _write_command(self, command: HandCommand) -> None:
        """Send one target. Refused (never raised) while a fault is latched; see diagnostics()."""
        pos = np.asarray(command.position, float)
        if pos.shape != (NUM_DOF,):
            raise ValueError(f"HandCommand.position must have shape ({NUM_DOF},) in order {HAND_DOF_NAMES}, got {pos.shape}")
        with self._lock:
            if self._fault is not None:
                self.stats.refused_writes += 1
                self._note(f"command refused (fault latched: {self._fault})")
                return
            speed = None if command.speed is None else np.asarray(command.speed, float)
            force = None if command.force_limit is None else np.asarray(command.force_limit, float)
            if speed is not None or force is not None:
                self._write_speed_force(speed, force, angle_closure=pos)
                return
            raw = self.cal.to_raw(pos)
            if np.all(np.isnan(raw)):
                return  # every DoF "unchanged": nothing to send
            if self.config.cycle == "legacy":
                self._write_block(Register.ANGLE_SET, pack_u16(raw))
                return
            raw = np.where(np.isnan(raw), np.nan, np.round(raw))
            fresh = time.perf_counter() - self._acked_at < self.config.rewrite_period_s
            if fresh and _same(raw, self._acked_angle):
                self.stats.skipped_writes += 1
                return
            if self.config.duplex == "full":
                self._send_write_pipelined(Register.ANGLE_SET, pack_u16(raw))
            else:
                self._write_block(Register.ANGLE_SET, pack_u16(raw))

    def _hold_position(self) -> None:
        """Target the measured pose now (allowed even while faulted: it stops motion)."""
        with self._lock:
            if self._ser is None:
                return
            frame = self._transact_read(Register.ANGLE_ACT, REGISTERS[Register.ANGLE_ACT].size)
            if frame is not None:
                actual = decode_register_values(Register.ANGLE_ACT, frame.data).astype(float)
                self._last_raw = actual
            elif np.all(np.isfinite(self._last_raw)):
                actual = self._last_raw
            else:
                self._note("hold: no pose known, could not hold")
                return
            self._write_block(Register.ANGLE_SET, pack_u16(actual))

    def _recover_fault(self) -> None:
        """Operator-requested: reopen the link if needed, CLEAR_ERROR, hold, clear the latch if healthy."""
        with self._lock:
            if self._ser is None or not self._ser.is_open:
                try:
                    self._open_port()
                except DriverError as e:
                    self._fault = str(e)
                    return
            self.stats.consecutive_failures = 0
            self._status_read_at = -np.inf  # judge health on a full read, not on cached status
            if not self._write_block(Register.CLEAR_ERROR, b"\x01"):
                self._fault = self._fault or "recover: CLEAR_ERROR not acknowledged"
                return
            previous = self._fault
            self._fault = None
            self._read_state()
            if self._fault is not None:
                return  # still unhealthy; read() set the reason
            self._hold_position()
            if self._fault is None:
                self._sent_speed = self._sent_force = None
                if previous:
                    self._note(f"recovered from: {previous}")

    # ================================================================ extras
    def calibrate_ranges(
        self,
        *,
        force_limit: float = 0.2,
        speed: float = 0.3,
        settle_s: float = 0.15,
        timeout_s: float = 5.0,
        dofs: tuple[int, ...] = tuple(range(NUM_DOF)),
    ) -> HandCalibration:
        """Guided range routine: drive each DoF to both raw ends under a low force limit.

        Each DoF in turn moves to raw 1000 then raw 0 (others stay put) at
        ``speed`` with FORCE_SET = ``force_limit``; the pose where it settles
        (stops changing for ``settle_s`` or blocks on contact) is that end.
        Which end is "open" is taken from the current config's direction. The
        default speed/force are restored and each DoF returns to where it started.
        Raises DriverError if the link faults meanwhile.
        """
        self._require("calibrate_ranges", LifecycleState.ACTIVE)
        ends = np.array([self.cal.open_raw, self.cal.closed_raw], float)
        hi_end, lo_end = ends.max(axis=0), ends.min(axis=0)  # kept for DoFs not in ``dofs``
        self._write_speed_force(np.full(NUM_DOF, speed), np.full(NUM_DOF, force_limit))
        try:
            start = self._require_pose()
            for i in dofs:
                for end_raw, store in ((RAW_MAX, hi_end), (0, lo_end)):
                    target = np.full(NUM_DOF, np.nan)
                    target[i] = end_raw
                    self._write_block(Register.ANGLE_SET, pack_u16(target))
                    store[i] = self._settle(i, settle_s, timeout_s)
                back = np.full(NUM_DOF, np.nan)
                back[i] = start[i]
                self._write_block(Register.ANGLE_SET, pack_u16(back))
        finally:
            self._write_speed_force(
                np.full(NUM_DOF, self.config.default_speed), np.full(NUM_DOF, self.config.default_force)
            )
        open_is_high = np.asarray(self.cal.open_raw) > np.asarray(self.cal.closed_raw)
        open_raw = np.where(open_is_high, hi_end, lo_end)
        closed_raw = np.where(open_is_high, lo_end, hi_end)
        return HandCalibration(
            open_raw=tuple(int(round(v)) for v in open_raw), closed_raw=tuple(int(round(v)) for v in closed_raw)
        )

    def diagnostics(self) -> list[Diagnostic]:
        with self._lock:
            s = self.stats
            lat = np.array(s.latencies_s) * 1e3 if s.latencies_s else np.array([np.nan])
            link_level = Diagnostic.OK
            msg = "link OK"
            if self._ser is None:
                link_level, msg = Diagnostic.STALE, "port closed"
            elif s.consecutive_failures >= self.config.fault_after:
                link_level, msg = Diagnostic.ERROR, f"no valid reply for {s.consecutive_failures} transactions"
            elif s.consecutive_failures or s.retries:
                link_level = Diagnostic.WARN if s.consecutive_failures else Diagnostic.OK
                msg = f"link OK with {s.retries} retries so far"
            out = [
                Diagnostic(
                    link_level,
                    "inspire_hand: link",
                    msg,
                    {
                        "port": self.config.port,
                        "hand_id": str(self.config.hand_id),
                        "baudrate": str(self.config.baudrate),
                        "transactions": str(s.transactions),
                        "failed_transactions": str(s.failed_transactions),
                        "retries": str(s.retries),
                        "timeouts": str(s.timeouts),
                        "bad_checksums": str(s.bad_checksums),
                        "garbage_bytes": str(s.garbage_bytes),
                        "unexpected_frames": str(s.unexpected_frames),
                        "rejected_writes": str(s.rejected_writes),
                        "refused_writes": str(s.refused_writes),
                        "io_errors": str(s.io_errors),
                        "consecutive_failures": str(s.consecutive_failures),
                        "txn_p50_ms": f"{np.nanpercentile(lat, 50):.2f}",
                        "txn_p99_ms": f"{np.nanpercentile(lat, 99):.2f}",
                    },
                )
            ]
            err = self._state.error
            err_values = {n: describe_error(int(e)) for n, e in zip(HAND_DOF_NAMES, err)}
            out.append(
                Diagnostic(
                    Diagnostic.ERROR if np.any(err) else Diagnostic.OK,
                    "inspire_hand: errors",
                    "hand reports errors" if np.any(err) else "no errors",
                    err_values,
                )
            )
            temp = self._state.temperature
            tmax = float(np.max(temp)) if temp.size else 0.0
            t_level = (
                Diagnostic.ERROR
                if tmax >= self.config.temp_fault_c
                else Diagnostic.WARN
                if tmax >= self.config.temp_warn_c
                else Diagnostic.OK
            )
            out.append(
                Diagnostic(
                    t_level,
                    "inspire_hand: temperature",
                    f"max {tmax:.0f} C",
                    {n: f"{t:.0f}" for n, t in zip(HAND_DOF_NAMES, temp)},
                )
            )
            out.append(
                Diagnostic(
                    Diagnostic.OK,
                    "inspire_hand: status",
                    "per-DoF actuator status",
                    {n: _status_name(int(v)) for n, v in zip(HAND_DOF_NAMES, self._status)}
                    | {f"current_mA.{n}": f"{c:.0f}" for n, c in zip(HAND_DOF_NAMES, self._current)},
                )
            )
            out.append(
                Diagnostic(
                    Diagnostic.ERROR if self._fault else Diagnostic.OK,
                    "inspire_hand: fault",
                    self._fault or self.lifecycle_state.value,
                    {"notes": " | ".join(self._notes)} if self._notes else {},
                )
            )
            return out

    @property
    def fault(self) -> str | None:
        return self._fault

    # ================================================================ internals
    def _note(self, text: str) -> None:
        if not self._notes or self._notes[-1] != text:
            self._notes.append(text)

    def _open_port(self) -> None:
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

    def _wire_time(self, nbytes: int) -> float:
        return nbytes * 10.0 / self.config.baudrate

    def _plan_reads(self) -> list[tuple[int, int]]:
        """(address, nbytes) transactions covering STATE_REGISTERS."""
        groups = [(REGISTERS[r].address, REGISTERS[r].end) for r in STATE_REGISTERS]
        if not self.config.batch_read:
            return [(a, e - a) for a, e in groups]
        plan: list[tuple[int, int]] = []
        start, end = groups[0]
        for a, e in groups[1:]:
            if e - start <= self.config.max_read_bytes:
                end = e
            else:
                plan.append((start, end - start))
                start, end = a, e
        plan.append((start, end - start))
        return plan

    def _read_state_registers(self) -> dict[Register, np.ndarray] | None:
        if self._ser is None:
            return None
        if self.config.cycle == "fast":
            t = time.perf_counter()
            if t - self._status_read_at < self.config.status_period_s:
                angle, force = REGISTERS[Register.ANGLE_ACT], REGISTERS[Register.FORCE_ACT]
                end = force.end if self.config.fast_forces else angle.end
                frame = self._transact_read(angle.address, end - angle.address)
                if frame is None:
                    return None
                self.stats.angle_only_reads += 1
                out = {Register.ANGLE_ACT: decode_register_values(Register.ANGLE_ACT, frame.data[: angle.size])}
                if self.config.fast_forces:
                    out[Register.FORCE_ACT] = decode_register_values(
                        Register.FORCE_ACT, frame.data[force.address - angle.address :]
                    )
                return out
        mem: dict[int, bytes] = {}
        for addr, n in self._read_plan:
            frame = self._transact_read(addr, n)
            if frame is None:
                return None
            mem[addr] = frame.data
        if self.config.cycle == "fast":
            self._status_read_at = t
        out: dict[Register, np.ndarray] = {}
        for reg in STATE_REGISTERS:
            info = REGISTERS[reg]
            for addr, data in mem.items():
                if addr <= info.address and info.end <= addr + len(data):
                    out[reg] = decode_register_values(reg, data[info.address - addr : info.end - addr])
                    break
        return out

    def _check_hand_faults(self) -> None:
        st = self._state
        bad = (st.error.astype(np.int64) & self.config.fault_error_mask) != 0
        if np.any(bad) and self._fault is None:
            parts = [f"{HAND_DOF_NAMES[i]}={describe_error(int(st.error[i]))}" for i in np.flatnonzero(bad)]
            self._fault = "hand error: " + ", ".join(parts)
        hot = st.temperature >= self.config.temp_fault_c
        if np.any(hot) and self._fault is None:
            parts = [f"{HAND_DOF_NAMES[i]}={st.temperature[i]:.0f}C" for i in np.flatnonzero(hot)]
            self._fault = "over-temperature: " + ", ".join(parts)

    def _require_pose(self) -> np.ndarray:
        st = self._read_state()
        if st.fault is not None or not np.all(np.isfinite(self._last_raw)):
            raise DriverError(f"hand not healthy: {st.fault or 'no pose'}")
        return self._last_raw.copy()

    def _settle(self, dof: int, settle_s: float, timeout_s: float) -> float:
        t0 = time.monotonic()
        last = None
        still_since = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            pose = self._require_pose()[dof]
            now = time.monotonic()
            if last is None or abs(pose - last) > 1.0:
                still_since = now
                last = pose
            elif now - still_since >= settle_s:
                return float(pose)
            time.sleep(0.005)
        raise DriverError(f"calibrate_ranges: DoF '{HAND_DOF_NAMES[dof]}' did not settle within {timeout_s} s")

    def _write_speed_force(
        self, speed: np.ndarray | None, force: np.ndarray | None, angle_closure: np.ndarray | None = None
    ) -> bool:
        """Write speed/force (0..1 fractions, NaN = unchanged) only where changed, plus an optional angle target."""

        def to_raw(x: np.ndarray | None) -> np.ndarray | None:
            if x is None:
                return None
            x = np.asarray(x, float)
            if x.shape != (NUM_DOF,):
                raise ValueError(f"speed/force_limit must have shape ({NUM_DOF},), got {x.shape}")
            return np.where(np.isnan(x), np.nan, np.round(np.clip(x, 0.0, 1.0) * RAW_MAX))

        sp, fo = to_raw(speed), to_raw(force)
        ok = True
        if sp is not None and not _same(sp, self._sent_speed):
            ok = self._write_block(Register.SPEED_SET, pack_u16(sp))
            if ok:
                self._sent_speed = _merge(self._sent_speed, sp)
        angle = None if angle_closure is None else self.cal.to_raw(angle_closure)
        force_changed = fo is not None and not _same(fo, self._sent_force)
        if ok and force_changed:
            assert fo is not None
            if angle is not None:  # ANGLE_SET and FORCE_SET are adjacent: one transaction
                ok = self._write_block(Register.ANGLE_SET, pack_u16(angle) + pack_u16(fo))
                angle = None
            else:
                ok = self._write_block(Register.FORCE_SET, pack_u16(fo))
            if ok:
                self._sent_force = _merge(self._sent_force, fo)
        if ok and angle is not None and not np.all(np.isnan(angle)):
            ok = self._write_block(Register.ANGLE_SET, pack_u16(angle))
        return ok

    def _write_block(self, address: int, data: bytes) -> bool:
        frame = self._transact(encode_write(self.config.hand_id, address, data), CMD_WRITE, address, 1)
        return self._on_write_reply(address, data, frame)

    def _on_write_reply(self, address: int, data: bytes, frame: Frame | None) -> bool:
        """Account for a write's acknowledgement (None: never came); track the acknowledged angle target."""
        ok = frame is not None and frame.data[0] == WRITE_ACK_OK
        if frame is not None and not ok:
            self.stats.rejected_writes += 1
            self._note(f"hand rejected write to {address} (ack 0x{frame.data[0]:02x})")
        if address == Register.ANGLE_SET:
            if ok:
                sent = unpack_u16(data[: REGISTERS[Register.ANGLE_SET].size], signed=False).astype(float)
                sent[sent == RAW_UNCHANGED] = np.nan
                self._acked_angle = _merge(self._acked_angle, sent)
                self._acked_at = time.perf_counter()
            else:
                self._acked_angle = None  # unknown: the next command is sent whatever it is
        return ok

    def _transact_read(self, address: int, nbytes: int) -> Frame | None:
        return self._transact(encode_read(self.config.hand_id, address, nbytes), CMD_READ, address, nbytes)

    def _send_write_pipelined(self, address: int, data: bytes) -> None:
        """Full duplex: send a write and return; its ack is collected with the next transaction."""
        self._settle_pending_write()
        ser = self._ser
        if ser is None:
            return
        request = encode_write(self.config.hand_id, address, data)
        self.stats.transactions += 1
        t0 = time.perf_counter()
        try:
            self._flush_input()
            ser.write(request)
        except (serial.SerialException, OSError, termios.error) as e:
            self.stats.io_errors += 1
            self._note(f"serial I/O error: {e}")
            self._finish_failed_transaction()
            self._on_write_reply(address, data, None)
            return
        deadline = t0 + self.config.timeout_s + self._wire_time(len(request) + FRAME_OVERHEAD + 1)
        self._pending_write = _PendingWrite(request, address, data, t0, deadline)

    def _settle_pending_write(self, *, extra_wire_bytes: int = 0) -> None:
        """Collect the outstanding pipelined write's ack (retrying the write if it does not come)."""
        pending, self._pending_write = self._pending_write, None
        if pending is None or self._ser is None:
            return
        try:
            frame = self._receive(
                CMD_WRITE, pending.address, 1, pending.t0, pending.deadline + self._wire_time(extra_wire_bytes)
            )
        except (serial.SerialException, OSError, termios.error) as e:
            self.stats.io_errors += 1
            self._note(f"serial I/O error: {e}")
            self._finish_failed_transaction()
            self._on_write_reply(pending.address, pending.data, None)
            return
        if frame is None:  # the remaining attempts, one at a time (a write is idempotent)
            frame = self._transact_sync(pending.request, CMD_WRITE, pending.address, 1, first_attempt=1)
        self._on_write_reply(pending.address, pending.data, frame)

    def _transact(self, request: bytes, cmd: int, address: int, ndata: int) -> Frame | None:
        """Send ``request``, wait for the matching reply; retry; account for failures."""
        if self._pending_write is not None:
            if self.config.duplex == "full" and self._ser is not None:
                # pipelined: this request goes out now, while the hand is still acknowledging the write
                t0 = time.perf_counter()
                try:
                    self._ser.write(request)
                except (serial.SerialException, OSError, termios.error):
                    self._settle_pending_write()
                    self.stats.transactions += 1
                    return self._transact_sync(request, cmd, address, ndata)
                self.stats.transactions += 1
                self._settle_pending_write(extra_wire_bytes=len(request))
                deadline = t0 + self.config.timeout_s + self._wire_time(2 * FRAME_OVERHEAD + 1 + len(request) + ndata)
                try:
                    frame = self._receive(cmd, address, ndata, t0, deadline)
                except (serial.SerialException, OSError, termios.error) as e:
                    self.stats.io_errors += 1
                    self._note(f"serial I/O error: {e}")
                    self._finish_failed_transaction()
                    return None
                if frame is not None:
                    return frame
                return self._transact_sync(request, cmd, address, ndata, first_attempt=1)
            self._settle_pending_write()
        self.stats.transactions += 1
        return self._transact_sync(request, cmd, address, ndata)

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
                deadline = t0 + self.config.timeout_s + self._wire_time(len(request) + expect)
                frame = self._receive(cmd, address, ndata, t0, deadline)
                if frame is not None:
                    return frame
            except (serial.SerialException, OSError, termios.error) as e:
                self.stats.io_errors += 1
                self._note(f"serial I/O error: {e}")
                break
        self._finish_failed_transaction()
        return None

    def _finish_failed_transaction(self) -> None:
        self.stats.failed_transactions += 1
        self.stats.consecutive_failures += 1
        if self.stats.consecutive_failures >= self.config.fault_after and self._fault is None:
            self._fault = (
                f"link: no valid reply from Inspire hand id {self.config.hand_id} on {self.config.port} "
                f"for {self.stats.consecutive_failures} consecutive transactions"
            )


@dataclass
class _PendingWrite:
    """A write sent on a full-duplex link whose acknowledgement has not been read yet."""

    request: bytes
    address: int
    data: bytes
    t0: float
    deadline: float


def _same(new: np.ndarray, sent: np.ndarray | None) -> bool:
    """True when writing ``new`` would not change what the hand already has."""
    if sent is None:
        return bool(np.all(np.isnan(new)))
    mask = ~np.isnan(new)
    return bool(np.all(new[mask] == sent[mask]))


def _merge(sent: np.ndarray | None, new: np.ndarray) -> np.ndarray:
    base = np.full(NUM_DOF, np.nan) if sent is None else sent.copy()
    mask = ~np.isnan(new)
    base[mask] = new[mask]
    return base


def _status_name(v: int) -> str:
    try:
        return Status(v).name
    except ValueError:
        return str(v)
