"""`being-h0 convert vla|tokenizer`: released Being-H0 artefacts -> this runtime's formats (convert_cli)."""

from __future__ import annotations

import argparse
from typing import Any

from .tree import adopt, adopt_children

HELP = "convert released Being-H0 artefacts (vla checkpoints, GRVQ tokenizer)"
EXAMPLES = {
    "vla": "being-h0 convert vla ~/hf/Being-H0-8B-Align-2508 --out models/being-h0-8b-align",
    "tokenizer": "being-h0 convert tokenizer ~/Downloads/Being-H0-GRVQ-8K --out models/grvq-8k",
}


def register(sub: Any) -> None:
    sub.add_lazy("convert", HELP, build_parser)


def build_parser(prog: str) -> argparse.ArgumentParser:
    from ..convert_cli import build_parser as convert_parser

    parser = adopt(convert_parser(), prog)  # each converter sets its own function
    adopt_children(parser, EXAMPLES)
    return parser
