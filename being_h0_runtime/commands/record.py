"""`being-h0 record`: record demonstrations, scripted or teleoperated (recording.record_cli)."""

from __future__ import annotations

import argparse
from typing import Any

from .tree import adopt

HELP = "record demonstrations (teleop or scripted operator)"


def register(sub: Any) -> None:
    sub.add_lazy("record", HELP, build_parser)


def build_parser(prog: str) -> argparse.ArgumentParser:
    from ..recording.record_cli import build_parser as record_parser
    from ..recording.record_cli import run_parsed

    return adopt(record_parser(), prog, run=run_parsed)
