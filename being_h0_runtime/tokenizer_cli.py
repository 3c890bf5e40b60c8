"""`being-h0 convert tokenizer` and `being-h0 tokenizer encode|decode` (released GRVQ-8K tokenizer).

Light at import time (no torch, nothing from being_h0_train) so every
`being-h0` command starts fast; the work (``being_h0_train.tokenizer.convert``,
``.grvq``, ``.protocol``) is imported inside the command functions. Errors
print one line naming the file and the problem and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

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


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


# ----------------------------------------------------------------------------- convert tokenizer
def cmd_convert_tokenizer(a: argparse.Namespace) -> int:
    from being_h0_train.tokenizer.convert import ConversionError, convert_tokenizer

    try:
        m = convert_tokenizer(a.src, a.out, overwrite=a.overwrite)
    except (ConversionError, FileNotFoundError) as e:
        return _fail(str(e))
    c = m.cfg
    print(f"converted {a.src} -> {a.out}: parts "
          + ", ".join(f"{p.name} {p.input_dim}-D ({p.num_groups}x{p.num_quantizers} codebooks of {p.nb_code})"
                      for p in c.parts)
          + f"; {c.window_size}-frame windows, {c.tokens_per_window} tokens each, ids 0..{m.num_token_ids - 1}")
    return 0


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
def _load_motion(path: Path, window: int) -> Any:
    import numpy as np

    try:
        x = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"{path}: not found") from None
    except (ValueError, OSError) as e:
        raise ValueError(f"{path}: not a readable .npy array ({e})") from None
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{path}: dtype {x.dtype}; MANO-162 frames must be floating point")
    if x.ndim == 3:
        x = x.reshape(-1, x.shape[-1])
    if x.ndim != 2 or x.shape[-1] != 162:
        raise ValueError(f"{path}: shape {x.shape}; expected (T, 162) MANO-162 frames")
    if x.shape[0] == 0 or x.shape[0] % window:
        raise ValueError(f"{path}: {x.shape[0]} frames; need a positive multiple of the {window}-frame window")
    if not np.isfinite(x).all():
        raise ValueError(f"{path}: contains NaN or inf")
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float32)  # official math runs in the input dtype


def _load_tokens(path: Path, per_window: int) -> Any:
    import numpy as np

    if path.suffix == ".json":
        try:
            t = np.asarray(json.loads(path.read_text())["tokens"])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: expected JSON with a 'tokens' list ({e})") from None
    else:
        t = np.load(path, allow_pickle=False)
    if t.size == 0 or t.size % per_window or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"{path}: {t.size} {t.dtype} values; expected integer token numbers, "
                         f"a multiple of {per_window} per window")
    return t.reshape(-1, per_window).astype(np.int64)


def cmd_tokenizer(a: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from being_h0_train.tokenizer.protocol import load_tokenizer

    try:
        tok = load_tokenizer(a.tokenizer)
    except (FileNotFoundError, ValueError) as e:
        return _fail(str(e))
    from being_h0_train.tokenizer.grvq import OfficialMotionTokenizer

    if not isinstance(tok, OfficialMotionTokenizer):
        return _fail(f"{a.tokenizer}: a project-trained tokenizer; `being-h0 tokenizer` runs converted official "
                     "tokenizers (use being_h0_train.tokenizer for ours)")
    src = a.motion or a.tokens
    if not src.is_file():
        return _fail(f"{src}: not found")
    try:
        is_motion = src.suffix == ".npy" and src.exists() and np.issubdtype(np.load(src, mmap_mode="r").dtype, np.floating)
    except (ValueError, OSError) as e:
        return _fail(f"{src}: not a readable .npy array ({e})")
    try:
        if a.command == "encode" or is_motion:
            if not is_motion:
                raise ValueError(f"{src}: encode needs a floating-point .npy of MANO-162 frames")
            x = _load_motion(src, tok.window_size)
            ids = tok.encode_windows(torch.from_numpy(x).reshape(-1, tok.window_size, 162)).numpy()
        else:
            ids = _load_tokens(src, tok.tokens_per_window)
        if a.command == "encode":
            out = {"tokens": ids.tolist(), "windows": int(ids.shape[0]), "tokens_per_window": tok.tokens_per_window,
                   "order": "per window: wrist then finger; per part: group, latent step, residual stage",
                   "token_text": "<motion_id_N>"}
            if a.json:
                print(json.dumps(out))
            else:
                for w in ids:
                    print("<mot>" + "".join(f"<motion_id_{int(n)}>" for n in w) + "</mot>")
            return 0
        frames = tok.decode_windows(torch.from_numpy(ids)).numpy()  # (W, window, 159)
    except ValueError as e:
        return _fail(str(e))
    if a.out is not None:
        np.save(a.out, frames.reshape(-1, frames.shape[-1]))
    layout = {p.name: [sum(q.input_dim for q in tok.cfg.parts[:i]), sum(q.input_dim for q in tok.cfg.parts[:i + 1])]
              for i, p in enumerate(tok.cfg.parts)}
    if a.json:
        print(json.dumps({"motion": frames.tolist(), "frames": frames.reshape(-1, frames.shape[-1]).tolist(),
                          "tokens": ids.tolist(), "layout": layout,
                          "shape": list(frames.shape), "fps": tok.cfg.fps}))
    else:
        print(f"decoded {ids.shape[0]} window(s) -> {frames.shape[0] * frames.shape[1]} frames x {frames.shape[2]} "
              f"values ({', '.join(f'{k} [{v[0]}:{v[1]}]' for k, v in layout.items())})"
              + (f" -> {a.out}" if a.out else ""))
    return 0


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
