"""`being-h0 dataset ...`: list / inspect / validate / recover / export / import episodes (recording.dataset_cli)."""

from __future__ import annotations

import argparse
from typing import Any

from .tree import adopt, adopt_children

HELP = "list / inspect / validate / export recorded episodes"
#: examples for the subcommands whose own help shows none (the group's epilog lists them all)
EXAMPLES = {
    "list": "being-h0 dataset list recordings/ --json",
    "inspect": "being-h0 dataset inspect recordings/pick_place_toy_0003 --out /tmp/inspect",
    "validate": "being-h0 dataset validate recordings/ --max-gap 0.5",
    "recover": "being-h0 dataset recover recordings/pick_place_toy_0007",
    "export": "being-h0 dataset export recordings/ --out datasets/pick --rate 10 --only-success",
    "lerobot": "being-h0 dataset lerobot recordings/ --out datasets/pick_lerobot --rate 10",
}


def register(sub: Any) -> None:
    sub.add_lazy("dataset", HELP, build_parser)


def build_parser(prog: str) -> argparse.ArgumentParser:
    from ..recording.dataset_cli import build_parser as dataset_parser
    from ..recording.dataset_cli import run_parsed

    parser = adopt(dataset_parser(), prog, run=run_parsed)
    adopt_children(parser, EXAMPLES)
    return parser
