"""3Dconnexion SpaceMouse: 6-DoF velocity control of the wrist, buttons for clutch and hand."""

from .config import HELP, SpaceMouseConfig
from .device import SpaceMouseDevice
from .hid_report import SpaceMouseState, parse_report

__all__ = ["HELP", "SpaceMouseConfig", "SpaceMouseDevice", "SpaceMouseState", "parse_report"]
