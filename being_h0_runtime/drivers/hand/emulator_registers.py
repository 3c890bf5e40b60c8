"""The RH56 register memory of the emulated hand, with a plant behind it: writes move it, reads sample it."""

from __future__ import annotations

import numpy as np

from .plants import HandPlant
from .protocol import (
    NUM_DOF,
    RAW_MAX,
    RAW_MIN,
    RAW_UNCHANGED,
    REGISTERS,
    Register,
    Status,
    decode_register_values,
)

#: Memory large enough for every register address in the map.
MEMORY_SIZE = 4096

#: setpoint registers whose writes merge per DoF (0xFFFF = unchanged) and reach the plant
_SETPOINTS = (Register.ANGLE_SET, Register.POS_SET, Register.FORCE_SET, Register.SPEED_SET)


class HandRegisters:
    """Register memory as the hand keeps it; not locked (the emulator serialises access)."""

    def __init__(self, plant: HandPlant, hand_id: int) -> None:
        self.plant = plant
        self.mem = bytearray(MEMORY_SIZE)
        self.mem[Register.HAND_ID] = hand_id
        self.mem[Register.REDU_RATIO] = 0
        full = np.full(NUM_DOF, RAW_MAX)
        self._put_u16(Register.DEFAULT_SPEED_SET, full)
        self._put_u16(Register.DEFAULT_FORCE_SET, full)
        self._put_u16(Register.CURRENT_LIMIT, np.full(NUM_DOF, 1500))
        self._put_u16(Register.VOLTAGE, np.array([24000]), signed=False)
        self._put_u16(Register.SPEED_SET, full)
        self._put_u16(Register.FORCE_SET, full)
        pos = np.asarray(self.plant.positions(), float)
        self._put_u16(Register.ANGLE_SET, pos)
        self.set_temperature(32.0)
        self._refresh_actuals()

    def set_error(self, dof: int, bits: int) -> None:
        self.mem[Register.ERROR + dof] = bits & 0xFF

    def set_temperature(self, celsius: np.ndarray | float) -> None:
        temps = np.broadcast_to(np.asarray(celsius, float), (NUM_DOF,))
        for i, t in enumerate(temps):
            self.mem[Register.TEMP + i] = int(np.clip(round(t), 0, 255))

    def register(self, reg: Register) -> np.ndarray:
        """One register group's values, the actual-value registers sampled from the plant now."""
        self._refresh_actuals()
        info = REGISTERS[reg]
        return decode_register_values(reg, bytes(self.mem[info.address : info.end]))

    def read(self, address: int, n: int) -> bytes:
        """`n` bytes from `address` as a read request returns them (past the end: zeros)."""
        self._refresh_actuals()
        return bytes(self.mem[address : address + n]).ljust(n, b"\x00")

    def write(self, addr: int, data: bytes) -> None:
        """A write request: setpoints merge per DoF and move the plant, CLEAR_ERROR clears, read-only skipped."""
        end = addr + len(data)
        for reg in _SETPOINTS:
            info = REGISTERS[reg]
            lo, hi = max(addr, info.address), min(end, info.end)
            if lo < hi:
                self._write_setpoint(reg, addr, data, lo, hi)
        handled = {a for reg in _SETPOINTS for a in range(REGISTERS[reg].address, REGISTERS[reg].end)}
        for i, b in enumerate(data):
            a = addr + i
            if a in handled or not 0 <= a < MEMORY_SIZE:
                continue
            if a == Register.CLEAR_ERROR:
                if b:
                    self.mem[Register.ERROR : Register.ERROR + NUM_DOF] = bytes(NUM_DOF)
                continue
            if a in (Register.SAVE, Register.RESET_PARA, Register.GESTURE_FORCE_CLB):
                continue  # accepted, nothing to persist in an emulator
            if Register.ANGLE_ACT <= a < Register.TEMP + NUM_DOF or a in (Register.VOLTAGE, Register.VOLTAGE + 1):
                continue  # read-only
            self.mem[a] = b

    # ------------------------------------------------------------- internals
    def _write_setpoint(self, reg: Register, addr: int, data: bytes, lo: int, hi: int) -> None:
        """The DoFs of `reg` that `data` (written at `addr`) covers in [lo, hi); 0xFFFF leaves a DoF as it is."""
        info = REGISTERS[reg]
        new = self._get_u16(reg)
        for i in range(NUM_DOF):
            a = info.address + 2 * i
            if lo <= a and a + 2 <= hi:
                v = data[a - addr] | (data[a - addr + 1] << 8)
                if v != RAW_UNCHANGED:
                    new[i] = min(v, 2 * RAW_MAX if reg == Register.POS_SET else RAW_MAX)
        self._put_u16(reg, new, signed=False)
        if reg == Register.ANGLE_SET:
            self.plant.set_target(new.astype(float))
        elif reg == Register.POS_SET:
            angle = RAW_MAX - new / 2.0
            self._put_u16(Register.ANGLE_SET, angle)
            self.plant.set_target(angle)
        elif reg == Register.SPEED_SET and hasattr(self.plant, "set_speed"):
            self.plant.set_speed(new.astype(float))  # type: ignore[attr-defined]
        elif reg == Register.FORCE_SET and hasattr(self.plant, "set_force_limit"):
            self.plant.set_force_limit(new.astype(float))  # type: ignore[attr-defined]

    def _put_u16(self, reg: Register, values: np.ndarray, signed: bool = True) -> None:
        arr = np.asarray(np.round(values), dtype=np.int64)
        raw = arr.astype("<i2").tobytes() if signed else (arr & 0xFFFF).astype("<u2").tobytes()
        self.mem[int(reg) : int(reg) + 2 * len(arr)] = raw

    def _get_u16(self, reg: Register, n: int = NUM_DOF) -> np.ndarray:
        return np.frombuffer(bytes(self.mem[int(reg) : int(reg) + 2 * n]), dtype="<u2").astype(np.int64)

    def _refresh_actuals(self) -> None:
        pos = np.clip(np.asarray(self.plant.positions(), float), RAW_MIN, RAW_MAX)
        force = np.asarray(self.plant.forces(), float)
        self._put_u16(Register.ANGLE_ACT, pos)
        # actuator stroke 0..2000 runs opposite to angle on the real hand
        self._put_u16(Register.POS_ACT, 2 * (RAW_MAX - pos))
        self._put_u16(Register.FORCE_ACT, np.clip(force, -32768, 32767))
        self._put_u16(Register.CURRENT, np.clip(100 + force * 0.5, 0, 32767))
        status_fn = getattr(self.plant, "status", None)
        status = status_fn() if callable(status_fn) else np.full(NUM_DOF, int(Status.POSITION_REACHED))
        for i in range(NUM_DOF):
            err = self.mem[Register.ERROR + i]
            self.mem[Register.STATUS + i] = int(Status.FAULT) if err else int(status[i])
