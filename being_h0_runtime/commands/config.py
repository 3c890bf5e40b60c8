"""`being-h0 config`: show or change the user's own settings (being_h0_runtime.user_config)."""

from __future__ import annotations

import argparse
from typing import Any

from .tree import new_parser

HELP = "show or change your own settings (default profile)"
EXAMPLES = """\
  being-h0 config                      show the settings and the file they live in
  being-h0 config set profile rig      `being-h0 doctor` checks the rig profile when given no --profile
"""


def register(sub: Any) -> None:
    sub.add_lazy("config", HELP, build_parser)


def build_parser(prog: str) -> argparse.ArgumentParser:
    from .. import user_config

    p = new_parser(prog, user_config.__doc__ or "", EXAMPLES)
    p.add_argument("action", choices=["show", "set"], nargs="?", default="show", help="show (default) or set")
    p.add_argument("key", nargs="?", help=f"one of: {', '.join(user_config.KEYS)}")
    p.add_argument("value", nargs="?")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..user_config import cmd_config

    return cmd_config(args)
