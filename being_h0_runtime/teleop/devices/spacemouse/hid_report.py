"""3Dconnexion HID input reports -> axes and buttons (pure; tested on report bytes in this layout).

The devices send (hidapi `read()` returns the report id as the first byte):

- report 1, 7 bytes: translation x, y, z as int16 little-endian;
  on newer devices (Wireless, Pro Wireless, Compact) 13 bytes: translation
  then rotation in the same report;
- report 2, 7 bytes: rotation rx, ry, rz as int16 little-endian;
- report 3: buttons, a little-endian bit mask (bit 0 left, bit 1 right).

Signs follow pyspacemouse's convention so that, with the cable away from
the operator, pushing the cap forward is +x, left is +y, pulling up is +z.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

#: sign of each raw axis (tx, ty, tz, rx, ry, rz) to get x forward, y left, z up, and right-handed turns
AXIS_SIGNS = np.array([1.0, -1.0, -1.0, -1.0, -1.0, 1.0])


class ReportError(ValueError):
    pass


@dataclass
class SpaceMouseState:
    #: tx, ty, tz, rx, ry, rz in raw counts, signs already applied
    axes: np.ndarray = field(default_factory=lambda: np.zeros(6))
    buttons: int = 0

    def pressed(self, bit: int) -> bool:
        return bool(self.buttons >> bit & 1)


def parse_report(data: bytes | list[int], state: SpaceMouseState) -> str:
    """Update `state` from one report; returns which part changed ('translation', 'rotation', 'both', 'buttons', 'ignored')."""
    b = bytes(data)
    if not b:
        raise ReportError("empty HID report")
    rid = b[0]
    if rid == 1 and len(b) >= 13:
        raw = np.array(struct.unpack_from("<6h", b, 1), dtype=float)
        state.axes = raw * AXIS_SIGNS
        return "both"
    if rid == 1:
        if len(b) < 7:
            raise ReportError(f"translation report has {len(b)} bytes, need 7")
        state.axes[:3] = np.array(struct.unpack_from("<3h", b, 1), dtype=float) * AXIS_SIGNS[:3]
        return "translation"
    if rid == 2:
        if len(b) < 7:
            raise ReportError(f"rotation report has {len(b)} bytes, need 7")
        state.axes[3:] = np.array(struct.unpack_from("<3h", b, 1), dtype=float) * AXIS_SIGNS[3:]
        return "rotation"
    if rid == 3:
        if len(b) < 2:
            raise ReportError("button report has no data byte")
        state.buttons = int.from_bytes(b[1:], "little")
        return "buttons"
    return "ignored"  # battery level (0x17) and vendor reports
