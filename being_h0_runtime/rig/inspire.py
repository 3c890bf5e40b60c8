"""Inspire RH56 dexterous hand: DoF names and order, value ranges and the register map.

Sources: the RH56 series user manual (RH56DFX/DFQ) and the vendor's sample
code. These are facts about the hand itself; the wire format that carries
them (frames, checksums, the streaming parser) lives in
`drivers/hand/protocol.py`, and the simulator's finger joints mirror the DoF
order below.

Two scales describe a DoF's position:

* raw angle-register units, RAW_MIN..RAW_MAX, where RAW_MAX is fully *open*
  and RAW_MIN fully closed (the hand's own scale);
* closure, 0 (open) .. 1 (closed): what the runtime, datasets and engines use.
  A per-hand calibration (drivers/hand/calibration.py) maps one onto the other.
  The hand's home is open: closure 0 on every DoF.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: Degree-of-freedom order, the same in every multi-DoF register and in every hand vector.
DOF_NAMES: tuple[str, ...] = ("little", "ring", "middle", "index", "thumb_bend", "thumb_rotation")
NUM_DOF = len(DOF_NAMES)

#: Angle-register range: RAW_MAX is open, RAW_MIN closed.
RAW_MIN = 0
RAW_MAX = 1000


class Access(enum.Enum):
    R = "r"
    W = "w"
    RW = "rw"


@dataclass(frozen=True)
class RegisterInfo:
    """One entry in the register map."""

    name: str
    address: int
    count: int  # number of values
    width: int  # bytes per value (1 or 2)
    signed: bool
    access: Access
    doc: str

    @property
    def size(self) -> int:
        """Size of the whole register group in bytes."""
        return self.count * self.width

    @property
    def end(self) -> int:
        """One past the last byte address of the group."""
        return self.address + self.size


class Register(enum.IntEnum):
    """Register byte addresses from the RH56 user manual (RH56DFX/DFQ series).

    The baud-rate register is called REDU_RATIO in the manual's table; public
    drivers disagree whether it sits at 1001 or 1002. 1001 is what the vendor's
    own sample code writes; check your unit's manual before changing baud.
    """

    HAND_ID = 1000
    REDU_RATIO = 1001
    CLEAR_ERROR = 1004
    SAVE = 1005
    RESET_PARA = 1006
    GESTURE_NO_SET = 1008
    GESTURE_FORCE_CLB = 1009
    CURRENT_LIMIT = 1020
    DEFAULT_SPEED_SET = 1032
    DEFAULT_FORCE_SET = 1044
    VOLTAGE = 1472
    POS_SET = 1474
    ANGLE_SET = 1486
    FORCE_SET = 1498
    SPEED_SET = 1522
    POS_ACT = 1534
    ANGLE_ACT = 1546
    FORCE_ACT = 1582
    CURRENT = 1594
    ERROR = 1606
    STATUS = 1612
    TEMP = 1618
    ACTION_SEQ_INDEX = 2320
    SAVE_ACTION_SEQ = 2321
    ACTION_SEQ_RUN = 2322


def _r(reg: Register, count: int, width: int, signed: bool, access: Access, doc: str) -> RegisterInfo:
    return RegisterInfo(reg.name, int(reg), count, width, signed, access, doc)


#: Sizes, signedness and meaning of every register group we use.
REGISTERS: dict[Register, RegisterInfo] = {
    Register.HAND_ID: _r(Register.HAND_ID, 1, 1, False, Access.RW, "device id 1..254"),
    Register.REDU_RATIO: _r(Register.REDU_RATIO, 1, 1, False, Access.RW, "baud rate code, see BAUD_CODES"),
    Register.CLEAR_ERROR: _r(Register.CLEAR_ERROR, 1, 1, False, Access.W, "write 1 to clear clearable errors"),
    Register.SAVE: _r(Register.SAVE, 1, 1, False, Access.W, "write 1 to save parameters to flash"),
    Register.RESET_PARA: _r(Register.RESET_PARA, 1, 1, False, Access.W, "write 1 to restore factory defaults"),
    Register.GESTURE_NO_SET: _r(Register.GESTURE_NO_SET, 1, 1, False, Access.W, "gesture sequence number"),
    Register.GESTURE_FORCE_CLB: _r(
        Register.GESTURE_FORCE_CLB, 1, 1, False, Access.W, "write 1 with the hand open to tare force sensors"
    ),
    Register.CURRENT_LIMIT: _r(Register.CURRENT_LIMIT, 6, 2, False, Access.RW, "actuator current protection, mA"),
    Register.DEFAULT_SPEED_SET: _r(Register.DEFAULT_SPEED_SET, 6, 2, False, Access.RW, "power-on speed 0..1000"),
    Register.DEFAULT_FORCE_SET: _r(Register.DEFAULT_FORCE_SET, 6, 2, False, Access.RW, "power-on force 0..1000"),
    Register.VOLTAGE: _r(Register.VOLTAGE, 1, 2, False, Access.R, "supply voltage, mV"),
    Register.POS_SET: _r(Register.POS_SET, 6, 2, True, Access.RW, "actuator position target 0..2000, -1 unchanged"),
    Register.ANGLE_SET: _r(Register.ANGLE_SET, 6, 2, True, Access.RW, "angle target 0..1000, -1 unchanged"),
    Register.FORCE_SET: _r(Register.FORCE_SET, 6, 2, True, Access.RW, "force threshold 0..1000, -1 unchanged"),
    Register.SPEED_SET: _r(Register.SPEED_SET, 6, 2, True, Access.RW, "speed 0..1000, -1 unchanged"),
    Register.POS_ACT: _r(Register.POS_ACT, 6, 2, True, Access.R, "actuator position 0..2000"),
    Register.ANGLE_ACT: _r(Register.ANGLE_ACT, 6, 2, True, Access.R, "angle 0..1000"),
    Register.FORCE_ACT: _r(Register.FORCE_ACT, 6, 2, True, Access.R, "finger force, grams-force (signed)"),
    Register.CURRENT: _r(Register.CURRENT, 6, 2, True, Access.R, "actuator current, mA"),
    Register.ERROR: _r(Register.ERROR, 6, 1, False, Access.R, "per-DoF error bits, see ErrorBit"),
    Register.STATUS: _r(Register.STATUS, 6, 1, False, Access.R, "per-DoF status, see Status"),
    Register.TEMP: _r(Register.TEMP, 6, 1, False, Access.R, "actuator temperature, deg C"),
    Register.ACTION_SEQ_INDEX: _r(Register.ACTION_SEQ_INDEX, 1, 1, False, Access.RW, "current action sequence"),
    Register.SAVE_ACTION_SEQ: _r(Register.SAVE_ACTION_SEQ, 1, 1, False, Access.W, "save action sequence"),
    Register.ACTION_SEQ_RUN: _r(Register.ACTION_SEQ_RUN, 1, 1, False, Access.W, "run action sequence"),
}

#: REDU_RATIO value -> baud rate (RH56 manual).
BAUD_CODES: dict[int, int] = {0: 115200, 1: 57600, 2: 19200, 3: 921600}


class ErrorBit(enum.IntFlag):
    """Bits of the per-DoF ERROR register."""

    STALL = 0x01  # locked-rotor
    OVER_TEMPERATURE = 0x02
    OVER_CURRENT = 0x04
    MOTOR_ABNORMAL = 0x08
    COMMUNICATION = 0x10


class Status(enum.IntEnum):
    """Values of the per-DoF STATUS register."""

    RELEASING = 0
    GRASPING = 1
    POSITION_REACHED = 2
    FORCE_REACHED = 3
    CURRENT_PROTECTION = 5
    STALLED = 6
    FAULT = 7
