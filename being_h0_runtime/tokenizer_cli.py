"""`being-h0 convert tokenizer` and `being-h0 tokenizer encode|decode` (released GRVQ-8K tokenizer).

The parsers (and the help users read) live here; the work is training code
(``being_h0_train.tokenizer.convert``, ``.grvq``, ``.protocol``), which the
runtime does not import: the commands run ``python -m being_h0_train.tokenizer.cli``
in a child process (``training_entry``), whose output and exit status are theirs.
Errors print one line naming the file and the problem and exit with status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .training_entry import run_training_module

#: the training-package program that does the work
TOKENIZER_PROGRAM = "being_h0_train.tokenizer.cli"

CONVERT_EPILOG = """\
SRC is a GRVQ release folder as BeingBeyond ships Being-H0-GRVQ-8K:
  SRC/wrist/  net_best_mpjpe.pth (['net']), motion_args.json, meta_mask.json, motion_meta.json
  SRC/finger/ the same for the finger part
The .pth files are read with torch.load(weights_only=True) only.

example:
  being-h0 convert tokenizer ~/Downloads/Being-H0-GRVQ-8K --out models/grvq-8k
"""

TOKENIZER_EPILOG = """\
--motion takes a .npy of MANO-162 frames, (T, 162) or (W, window, 162), official layout:
  finger 6D [0:90] | wrist 6D [90:96] | translation [96:99] | 21 joints x 3 [99:162]
  (6D = first two rotation-matrix columns, row-interleaved), T a multiple of the
  window (15 frames at 15 fps for GRVQ-8K).
decode also accepts token numbers: an integer .npy (W, 128) or flat, or the JSON
written by `encode --json` (key "tokens").

examples:
  being-h0 tokenizer encode --tokenizer models/grvq-8k --motion clip.npy --json
  being-h0 tokenizer decode --tokenizer models/grvq-8k --motion clip.npy --json   # round trip
  being-h0 tokenizer decode --tokenizer models/grvq-8k --motion tokens.json --out recon.npy
"""


# ----------------------------------------------------------------------------- convert tokenizer
def cmd_convert_tokenizer(a: argparse.Namespace) -> int:
    argv = ["convert", str(a.src), "--out", str(a.out)] + (["--overwrite"] if a.overwrite else [])
    return run_training_module(TOKENIZER_PROGRAM, argv)


def register_convert_tokenizer(convert_sub: Any) -> None:
    """Add `tokenizer` to the `being-h0 convert` subcommand group."""
    p = convert_sub.add_parser("tokenizer", help="GRVQ tokenizer release (wrist/ + finger/) -> safetensors folder",
                               description=__doc__, epilog=CONVERT_EPILOG,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", type=Path, metavar="SRC", help="release folder holding wrist/ and finger/")
    p.add_argument("--out", type=Path, required=True, help="output folder (created; written atomically)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_convert_tokenizer)


# ----------------------------------------------------------------------------- tokenizer encode/decode
def cmd_tokenizer(a: argparse.Namespace) -> int:
    src = ["--motion", str(a.motion)] if a.motion is not None else ["--tokens", str(a.tokens)]
    argv = [a.command, "--tokenizer", str(a.tokenizer), *src]
    argv += (["--out", str(a.out)] if a.out is not None else []) + (["--json"] if a.json else [])
    return run_training_module(TOKENIZER_PROGRAM, argv)


def build_tokenizer_parser(prog: str = "being-h0 tokenizer") -> argparse.ArgumentParser:
    """The parser of `being-h0 tokenizer encode|decode`."""
    p = argparse.ArgumentParser(prog=prog,
                                description="MANO-162 motion <-> <motion_id_N> token numbers, as the official "
                                            "Being-H0 code.",
                                epilog=TOKENIZER_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_ in (("encode", "MANO-162 frames -> token numbers per window (JSON key 'tokens')"),
                        ("decode", "token numbers (or MANO-162 frames, round trip) -> [wrist 9 | finger 150] per frame")):
        c = s.add_parser(name, help=help_, epilog=TOKENIZER_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        c.add_argument("--tokenizer", type=Path, required=True, help="folder written by `being-h0 convert tokenizer`")
        g = c.add_mutually_exclusive_group(required=True)
        g.add_argument("--motion", type=Path, help=".npy of MANO-162 frames" + (
            " (or integer token numbers)" if name == "decode" else ""))
        if name == "decode":
            g.add_argument("--tokens", type=Path, help="integer .npy or `encode --json` output")
            c.add_argument("--out", type=Path, default=None, help="also save the (T, 159) frames as .npy")
        else:
            c.set_defaults(tokens=None, out=None)
        c.add_argument("--json", action="store_true", help="print JSON")
        c.set_defaults(func=cmd_tokenizer)
    return p
