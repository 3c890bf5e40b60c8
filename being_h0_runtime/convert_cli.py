"""``being-h0 convert``: bring released artefacts into this runtime's formats.

Subcommands live in their own modules and register here by name (one line each), so
converters for other artefacts add themselves without touching the others::

    being-h0 convert vla SRC --out ENGINE_DIR     official Being-H0 VLA checkpoint -> engine / backbone
    being-h0 convert tokenizer SRC --out DIR      official GRVQ hand-motion tokenizer (wrist/ + finger/) -> safetensors

Exit codes: 0 done, 2 bad input (the message names the file and the problem; nothing is left at --out).
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> (module with ``add_arguments(parser)`` and ``run(args) -> int``, one-line help)
CONVERTERS: dict[str, tuple[str, str]] = {
    "vla": ("being_h0_runtime.convert_vla_cli", "official Being-H0 VLA checkpoint (Align -> engine, pre-trained -> backbone)"),
}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="being-h0 convert", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    for name, (module, help_) in CONVERTERS.items():
        p = sub.add_parser(name, help=help_, formatter_class=argparse.RawDescriptionHelpFormatter)
        mod = importlib.import_module(module)
        mod.add_arguments(p)
        p.set_defaults(func=mod.run)
    from .tokenizer_cli import register_convert_tokenizer

    register_convert_tokenizer(sub)  # being-h0 convert tokenizer
    return ap


def main(argv: list[str] | None = None) -> int:
    from .config import run_subcommand

    return run_subcommand(build_parser().parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())
