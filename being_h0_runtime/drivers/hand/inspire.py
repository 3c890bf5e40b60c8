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
re-targets the hand to where it *is* so nothing moves on its own. (A ``write``
before ``activate()`` is a caller's bug, not a link failure: it raises.)

Beside it: ``inspire_config`` (settings), ``inspire_link`` (serial transactions),
``inspire_state`` (register meaning), ``inspire_ranges`` (the range routine), ``inspire_setpoints``
(what the hand already holds, so unchanged setpoints are not re-sent).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from ..base import (
    HAND_DOF_NAMES,
    Diagnostic,
    DriverError,
    HandCommand,
    HandDriver,
    HandState,
    LifecycleState,
)
from .calibration import HandCalibration
from .inspire_config import InspireHandConfig
from .inspire_link import InspireLink, LinkStats
from .inspire_ranges import calibrate_ranges
from .inspire_setpoints import Setpoints
from .inspire_state import (
    angle_span,
    decode_angle_span,
    decode_state_spans,
    hand_fault,
    plan_state_reads,
    state_diagnostics,
)
from .protocol import (
    NUM_DOF,
    REGISTERS,
    Register,
    decode_register_values,
    pack_u16,
)


class InspireHand(HandDriver):
    """RH56 hand over a serial link. See module docstring for the cycle budget."""

    def __init__(self, config: InspireHandConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self.cal = config.calibration
        self._clock = clock
        self._lock = threading.RLock()
        self.setpoints = Setpoints()  # what the hand already holds (writes only what changes)
        self.link = InspireLink(config, clock=clock, note=self._note, on_write_ack=self.setpoints.on_write_ack,
                                on_link_fault=self._latch_fault)
        self._fault: str | None = None
        self._last_raw = np.full(NUM_DOF, np.nan)
        self._state = HandState(stamp=0.0, position=np.full(NUM_DOF, np.nan))
        self._status = np.zeros(NUM_DOF, dtype=np.int64)
        self._current = np.zeros(NUM_DOF)
        self._notes: deque[str] = deque(maxlen=8)
        self._read_plan = self._plan_reads()
        self._status_read_at = -np.inf  # perf_counter of the last full-span read (fast cycle)

    @property
    def config(self) -> InspireHandConfig:
        return self._config

    @config.setter
    def config(self, config: InspireHandConfig) -> None:
        """Swap the settings of a live driver (the link benchmark switches cycle modes this way)."""
        self._config = config
        self.link.config = config
        self._read_plan = self._plan_reads()

    @property
    def stats(self) -> LinkStats:
        return self.link.stats

    @property
    def driver_name(self) -> str:
        return f"InspireHand id {self.config.hand_id} on {self.config.port}"

    # ================================================================ lifecycle steps (order enforced by HandDriver)
    def _on_configure(self) -> None:
        """Open the port and check that hand ``hand_id`` answers (DriverError if not)."""
        with self._lock:
            self.link.open()
            frame = self.link.read(Register.HAND_ID, 1)
            if frame is None:
                port = self.config.port
                self.link.close()
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
            self.link.settle_pending_write()
            return self.stats.failed_transactions == failed

    def _on_close(self) -> None:
        with self._lock:
            self.link.close()

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
                if self._fault is None:
                    self._fault = hand_fault(self._state, self.config)
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
                self.link.write(Register.ANGLE_SET, pack_u16(raw))
                return
            raw = np.where(np.isnan(raw), np.nan, np.round(raw))
            if self.setpoints.angle_is_current(raw, self.config.rewrite_period_s):
                self.stats.skipped_writes += 1
                return
            if self.config.duplex == "full":
                self.link.write_pipelined(Register.ANGLE_SET, pack_u16(raw))
            else:
                self.link.write(Register.ANGLE_SET, pack_u16(raw))

    def _hold_position(self) -> None:
        """Target the measured pose now (allowed even while faulted: it stops motion)."""
        with self._lock:
            if not self.link.is_open:
                return
            frame = self.link.read(Register.ANGLE_ACT, REGISTERS[Register.ANGLE_ACT].size)
            if frame is not None:
                actual = decode_register_values(Register.ANGLE_ACT, frame.data).astype(float)
                self._last_raw = actual
            elif np.all(np.isfinite(self._last_raw)):
                actual = self._last_raw
            else:
                self._note("hold: no pose known, could not hold")
                return
            self.link.write(Register.ANGLE_SET, pack_u16(actual))

    def _recover_fault(self) -> None:
        """Operator-requested: reopen the link if needed, CLEAR_ERROR, hold, clear the latch if healthy."""
        with self._lock:
            if not self.link.is_open:
                try:
                    self.link.open()
                except DriverError as e:
                    self._fault = str(e)
                    return
            self.stats.consecutive_failures = 0
            self._status_read_at = -np.inf  # judge health on a full read, not on cached status
            if not self.link.write(Register.CLEAR_ERROR, b"\x01"):
                self._fault = self._fault or "recover: CLEAR_ERROR not acknowledged"
                return
            previous = self._fault
            self._fault = None
            self._read_state()
            if self._fault is not None:
                return  # still unhealthy; read() set the reason
            self._hold_position()
            if self._fault is None:
                self.setpoints.forget_speed_force()
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
        """Guided range routine (:func:`.inspire_ranges.calibrate_ranges`); needs an active hand."""
        self._require("calibrate_ranges", LifecycleState.ACTIVE)
        return calibrate_ranges(self, force_limit=force_limit, speed=speed, settle_s=settle_s, timeout_s=timeout_s,
                                dofs=dofs)

    def diagnostics(self) -> list[Diagnostic]:
        with self._lock:
            out = [self.link.diagnostic(), *state_diagnostics(self._state, self._status, self._current, self.config)]
            notes = {"notes": " | ".join(self._notes)} if self._notes else {}
            out.append(Diagnostic(Diagnostic.ERROR if self._fault else Diagnostic.OK, "inspire_hand: fault",
                                  self._fault or self.lifecycle_state.value, notes))
            return out

    @property
    def fault(self) -> str | None:
        return self._fault

    # ================================================================ internals
    def _note(self, text: str) -> None:
        if not self._notes or self._notes[-1] != text:
            self._notes.append(text)

    def _plan_reads(self) -> list[tuple[int, int]]:
        """(address, nbytes) transactions of a full state read."""
        return plan_state_reads(self.config.batch_read, self.config.max_read_bytes)

    def _read_state_registers(self) -> dict[Register, np.ndarray] | None:
        if not self.link.is_open:
            return None
        if self.config.cycle == "fast":
            t = time.perf_counter()
            if t - self._status_read_at < self.config.status_period_s:
                frame = self.link.read(*angle_span(self.config.fast_forces))
                if frame is None:
                    return None
                self.stats.angle_only_reads += 1
                return decode_angle_span(frame.data, self.config.fast_forces)
        mem: dict[int, bytes] = {}
        for addr, n in self._read_plan:
            frame = self.link.read(addr, n)
            if frame is None:
                return None
            mem[addr] = frame.data
        if self.config.cycle == "fast":
            self._status_read_at = t
        return decode_state_spans(mem)

    def _require_pose(self) -> np.ndarray:
        """The measured raw angle registers; DriverError unless the hand is healthy."""
        st = self._read_state()
        if st.fault is not None or not np.all(np.isfinite(self._last_raw)):
            raise DriverError(f"hand not healthy: {st.fault or 'no pose'}")
        return self._last_raw.copy()

    def _write_speed_force(
        self, speed: np.ndarray | None, force: np.ndarray | None, angle_closure: np.ndarray | None = None
    ) -> bool:
        """Write speed/force (0..1 fractions, NaN = unchanged) only where changed, plus an optional angle target."""
        return self.setpoints.write_speed_force(self.link, self.cal, speed, force, angle_closure)

    def _latch_fault(self, reason: str) -> None:
        """Keep the first cause; later failures are its consequences."""
        if self._fault is None:
            self._fault = reason
