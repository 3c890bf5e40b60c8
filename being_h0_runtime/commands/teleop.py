"""`being-h0 teleop --device DEVICE`: drive the virtual rig's arm and hand (being_h0_runtime.teleop.cli)."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "drive the virtual rig's arm and hand with a device"


def register(sub: Any) -> None:
    sub.add_lazy("teleop", HELP, build_parser)


def build_parser(prog: str) -> argparse.ArgumentParser:
    from ..teleop.cli import build_parser as teleop_parser

    return teleop_parser(prog)


def run(args: argparse.Namespace) -> int:
    from ..teleop.cli import cmd_teleop

    return cmd_teleop(args)
