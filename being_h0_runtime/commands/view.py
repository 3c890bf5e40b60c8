"""`being-h0 view`: a live Foxglove view of a running graph (being_h0_runtime.view.cli)."""

from __future__ import annotations

import argparse
from typing import Any

from .tree import adopt

HELP = "live Foxglove view of a running graph (camera, joints, commands, safety, task)"


def register(sub: Any) -> None:
    sub.add_lazy("view", HELP, build_parser)


def build_parser(prog: str) -> argparse.ArgumentParser:
    from ..view.cli import build_parser as view_parser
    from ..view.cli import run_parsed

    return adopt(view_parser(), prog, run=run_parsed)
