"""SpaceMouse settings and the USB ids of the 3Dconnexion devices we know."""

from __future__ import annotations

from pydantic import Field

from ..base import DeviceConfig

#: (vendor id, product id) -> name; 0x046d is Logitech (older 3Dconnexion), 0x256f is 3Dconnexion
KNOWN_DEVICES: dict[tuple[int, int], str] = {
    (0x046D, 0xC626): "SpaceNavigator",
    (0x046D, 0xC627): "SpaceExplorer",
    (0x046D, 0xC628): "SpaceNavigator for Notebooks",
    (0x046D, 0xC62B): "SpaceMouse Pro",
    (0x256F, 0xC62E): "SpaceMouse Wireless (cabled)",
    (0x256F, 0xC62F): "SpaceMouse Wireless (receiver)",
    (0x256F, 0xC631): "SpaceMouse Pro Wireless (cabled)",
    (0x256F, 0xC632): "SpaceMouse Pro Wireless (receiver)",
    (0x256F, 0xC633): "SpaceMouse Enterprise",
    (0x256F, 0xC635): "SpaceMouse Compact",
    (0x256F, 0xC652): "Universal Receiver",
}

HELP = """SpaceMouse teleop:
  left button     clutch: take over / release (the robot follows only while it is on)
  right button    close / open the hand (toggles)
  push/pull/tilt/twist the cap: the wrist moves at a speed proportional to the deflection"""


class SpaceMouseConfig(DeviceConfig):
    #: wrist speed at full deflection (m/s, before `scale`)
    max_speed_m_s: float = Field(0.15, gt=0, le=1)
    #: turn rate at full deflection (rad/s)
    max_rate_rad_s: float = Field(0.8, gt=0, le=5)
    #: deflections below this fraction of full scale are ignored (the cap never rests at exactly 0)
    deadband: float = Field(0.08, ge=0, lt=1)
    #: raw counts at full deflection (3Dconnexion devices report about +-350)
    full_scale: float = Field(350.0, gt=0)
    #: open this USB device (vendor id, product id); default: the first known 3Dconnexion device found
    vendor_id: int | None = None
    product_id: int | None = None
