"""`being-h0 calibrate ...`: camera intrinsics, hand-eye, hand ranges, checks (calibration.cli)."""

from __future__ import annotations

import argparse
from typing import Any

from .tree import adopt, adopt_children

HELP = "camera intrinsics, hand-eye and hand-range calibration"
EXAMPLES = {
    "intrinsics": "being-h0 calibrate intrinsics --rig-dir calibration/rig1 --serial 123456789012 --resolution 640x480",
    "hand-eye": "being-h0 calibrate hand-eye --sim",
    "hand-range": "being-h0 calibrate hand-range --rig-dir calibration/rig1 --port /dev/ttyUSB0",
    "check": "being-h0 calibrate check --rig-dir calibration/rig1 --needs hand_eye intrinsics",
}


def register(sub: Any) -> None:
    sub.add_lazy("calibrate", HELP, build_parser)


def build_parser(prog: str) -> argparse.ArgumentParser:
    from ..calibration.cli import build_parser as calibrate_parser

    parser = adopt(calibrate_parser(), prog)  # each subcommand sets its own function
    adopt_children(parser, EXAMPLES)
    return parser
