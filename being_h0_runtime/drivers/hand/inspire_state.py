"""What the Inspire hand's state registers say: which spans to read, their values, faults and diagnostics.

Pure functions of register contents; the driver (:mod:`.inspire`) does the I/O.
"""

from __future__ import annotations

import numpy as np

from ..base import HAND_DOF_NAMES, Diagnostic, HandState
from .inspire_config import InspireHandConfig
from .protocol import (
    REGISTERS,
    Register,
    Status,
    decode_register_values,
    describe_error,
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


def plan_state_reads(batch_read: bool, max_read_bytes: int) -> list[tuple[int, int]]:
    """(address, nbytes) transactions covering STATE_REGISTERS: one per group, or merged up to `max_read_bytes`."""
    groups = [(REGISTERS[r].address, REGISTERS[r].end) for r in STATE_REGISTERS]
    if not batch_read:
        return [(a, e - a) for a, e in groups]
    plan: list[tuple[int, int]] = []
    start, end = groups[0]
    for a, e in groups[1:]:
        if e - start <= max_read_bytes:
            end = e
        else:
            plan.append((start, end - start))
            start, end = a, e
    plan.append((start, end - start))
    return plan


def decode_state_spans(mem: dict[int, bytes]) -> dict[Register, np.ndarray]:
    """Values of every STATE_REGISTERS group found in `mem` (start address -> bytes read there)."""
    out: dict[Register, np.ndarray] = {}
    for reg in STATE_REGISTERS:
        info = REGISTERS[reg]
        for addr, data in mem.items():
            if addr <= info.address and info.end <= addr + len(data):
                out[reg] = decode_register_values(reg, data[info.address - addr : info.end - addr])
                break
    return out


def angle_span(with_forces: bool) -> tuple[int, int]:
    """(address, nbytes) of the fast cycle's short read: ANGLE_ACT, or ANGLE_ACT .. FORCE_ACT."""
    angle, force = REGISTERS[Register.ANGLE_ACT], REGISTERS[Register.FORCE_ACT]
    end = force.end if with_forces else angle.end
    return angle.address, end - angle.address


def decode_angle_span(data: bytes, with_forces: bool) -> dict[Register, np.ndarray]:
    """Values in a span read at ``angle_span(with_forces)``."""
    angle, force = REGISTERS[Register.ANGLE_ACT], REGISTERS[Register.FORCE_ACT]
    out = {Register.ANGLE_ACT: decode_register_values(Register.ANGLE_ACT, data[: angle.size])}
    if with_forces:
        out[Register.FORCE_ACT] = decode_register_values(Register.FORCE_ACT, data[force.address - angle.address :])
    return out


def hand_fault(state: HandState, config: InspireHandConfig) -> str | None:
    """The fault the hand's own error bits or temperatures call for (None: healthy)."""
    bad = (state.error.astype(np.int64) & config.fault_error_mask) != 0
    if np.any(bad):
        parts = [f"{HAND_DOF_NAMES[i]}={describe_error(int(state.error[i]))}" for i in np.flatnonzero(bad)]
        return "hand error: " + ", ".join(parts)
    hot = state.temperature >= config.temp_fault_c
    if np.any(hot):
        parts = [f"{HAND_DOF_NAMES[i]}={state.temperature[i]:.0f}C" for i in np.flatnonzero(hot)]
        return "over-temperature: " + ", ".join(parts)
    return None


def state_diagnostics(state: HandState, status: np.ndarray, current: np.ndarray,
                      config: InspireHandConfig) -> list[Diagnostic]:
    """Error bits, temperatures and actuator status of the last full state read."""
    err = state.error
    errors = Diagnostic(Diagnostic.ERROR if np.any(err) else Diagnostic.OK, "inspire_hand: errors",
                        "hand reports errors" if np.any(err) else "no errors",
                        {n: describe_error(int(e)) for n, e in zip(HAND_DOF_NAMES, err)})
    temp = state.temperature
    tmax = float(np.max(temp)) if temp.size else 0.0
    t_level = (Diagnostic.ERROR if tmax >= config.temp_fault_c
               else Diagnostic.WARN if tmax >= config.temp_warn_c
               else Diagnostic.OK)
    temperature = Diagnostic(t_level, "inspire_hand: temperature", f"max {tmax:.0f} C",
                             {n: f"{t:.0f}" for n, t in zip(HAND_DOF_NAMES, temp)})
    actuators = Diagnostic(Diagnostic.OK, "inspire_hand: status", "per-DoF actuator status",
                           {n: _status_name(int(v)) for n, v in zip(HAND_DOF_NAMES, status)}
                           | {f"current_mA.{n}": f"{c:.0f}" for n, c in zip(HAND_DOF_NAMES, current)})
    return [errors, temperature, actuators]


def _status_name(v: int) -> str:
    try:
        return Status(v).name
    except ValueError:
        return str(v)
