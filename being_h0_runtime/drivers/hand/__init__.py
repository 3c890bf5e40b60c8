"""Inspire RH56 dexterous hand: register protocol, pyserial driver, pty emulator.

    from being_h0_runtime.drivers.hand import InspireEmulator, InspireHand, InspireHandConfig

    with InspireEmulator() as emu:                      # or a real /dev/ttyUSB0
        hand = InspireHand(InspireHandConfig(port=emu.port))
        hand.configure(); hand.activate()
        state = hand.read()                             # closure 0 = open, 1 = closed
"""

from .calibration import (
    CalibrationError,
    HandCalibration,
    load_calibration,
    save_calibration,
)
from .emulator import FaultConfig, InspireEmulator
from .inspire import InspireHand
from .inspire_config import InspireHandConfig
from .inspire_link import LinkStats
from .plants import ClosurePlant, FirstOrderHandPlant, HandPlant
from .protocol import ErrorBit, Frame, FrameParser, ProtocolError, Register, Status

__all__ = [
    "CalibrationError",
    "ClosurePlant",
    "ErrorBit",
    "FaultConfig",
    "FirstOrderHandPlant",
    "Frame",
    "FrameParser",
    "HandCalibration",
    "HandPlant",
    "InspireEmulator",
    "InspireHand",
    "InspireHandConfig",
    "LinkStats",
    "ProtocolError",
    "Register",
    "Status",
    "load_calibration",
    "save_calibration",
]
