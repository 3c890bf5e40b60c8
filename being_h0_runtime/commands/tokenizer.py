"""`being-h0 tokenizer encode|decode`: hand motion <-> GRVQ token numbers (being_h0_runtime.tokenizer_cli)."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "encode/decode hand motion with a converted GRVQ tokenizer"


def register(sub: Any) -> None:
    sub.add_lazy("tokenizer", HELP, build_parser)


def build_parser(prog: str) -> argparse.ArgumentParser:
    from ..tokenizer_cli import build_tokenizer_parser

    return build_tokenizer_parser(prog)


def run(args: argparse.Namespace) -> int:
    from ..tokenizer_cli import cmd_tokenizer

    return cmd_tokenizer(args)
