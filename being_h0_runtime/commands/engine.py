"""`being-h0 engine infer|build`: use an engine folder directly (being_h0_runtime.engine_cli)."""

from __future__ import annotations

import argparse
from typing import Any

from .tree import adopt, adopt_children

HELP = "engine infer (one observation -> action chunk) / engine build (ONNX, TensorRT)"
EXAMPLES = {
    "infer": 'being-h0 engine infer --engine models/being-h0-sim-small --image frame.png --task "pick up the toy" '
             "--state=0.1,-0.4,0,-2.1,0,1.9,0.7,0,0,0,0,0,0 --json",
    "build": "being-h0 engine build --engine models/being-h0-8b-align --backend onnx",
}


def register(sub: Any) -> None:
    sub.add_lazy("engine", HELP, build_parser)


def build_parser(prog: str) -> argparse.ArgumentParser:
    from ..engine_cli import build_parser as engine_parser

    parser = adopt(engine_parser(), prog)  # infer and build set their own functions
    adopt_children(parser, EXAMPLES)
    return parser
