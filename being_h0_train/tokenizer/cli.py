"""The released GRVQ-8K tokenizer as a program: convert a release, encode / decode MANO-162 motion.

`being-h0 convert tokenizer` and `being-h0 tokenizer encode|decode` parse their arguments in the runtime
(``being_h0_runtime.tokenizer_cli``, where their help lives) and run this module in a child process, so
the runtime never imports the training package::

    python -m being_h0_train.tokenizer.cli convert SRC --out DIR [--overwrite]
    python -m being_h0_train.tokenizer.cli encode|decode --tokenizer DIR (--motion NPY | --tokens FILE)
                                                         [--out NPY] [--json]

Errors print one line naming the file and the problem and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def cmd_convert_tokenizer(a: argparse.Namespace) -> int:
    from .convert import ConversionError, convert_tokenizer

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

    from .protocol import load_tokenizer

    try:
        tok = load_tokenizer(a.tokenizer)
    except (FileNotFoundError, ValueError) as e:
        return _fail(str(e))
    from .grvq import OfficialMotionTokenizer

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


def build_parser() -> argparse.ArgumentParser:
    """Plain options, all given by the runtime's front end (its parsers hold the help users read)."""
    p = argparse.ArgumentParser(prog="python -m being_h0_train.tokenizer.cli",
                                description="what `being-h0 convert tokenizer` / `being-h0 tokenizer` run")
    s = p.add_subparsers(dest="command", required=True)
    c = s.add_parser("convert", help="GRVQ release folder -> safetensors folder")
    c.add_argument("src", type=Path)
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--overwrite", action="store_true")
    c.set_defaults(func=cmd_convert_tokenizer)
    for name in ("encode", "decode"):
        t = s.add_parser(name, help=f"{name} with a converted tokenizer")
        t.add_argument("--tokenizer", type=Path, required=True)
        g = t.add_mutually_exclusive_group(required=True)
        g.add_argument("--motion", type=Path)
        g.add_argument("--tokens", type=Path)
        t.add_argument("--out", type=Path, default=None)
        t.add_argument("--json", action="store_true")
        t.set_defaults(func=cmd_tokenizer)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
