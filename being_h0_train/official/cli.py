"""What `being-h0 convert vla` runs (``python -m being_h0_train.official.cli SRC --out DIR ...``).

The options and their help are the runtime's (``being_h0_runtime.convert_vla_cli``); every one is given
by it. Bad input (a malformed checkpoint) is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from being_h0_runtime.config import run_subcommand


def run(args: argparse.Namespace) -> int:
    from .convert import convert_vla

    res = convert_vla(args.src, args.out, weights_dtype=args.weights_dtype, compute_dtype=args.compute_dtype,
                      force=args.force, progress=not args.no_progress, log=lambda m: print(m, file=sys.stderr))
    what = "engine" if res.kind == "engine" else "post-training backbone"
    print(f"converted {args.src} -> {res.out} ({what}): {res.tensors} tensors, {res.bytes_written / 2**20:.1f} MiB "
          f"written, {len(res.dropped)} dropped, {res.seconds:.1f} s, peak RSS {res.peak_rss_mib:.0f} MiB")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m being_h0_train.official.cli",
                                 description="what `being-h0 convert vla` runs (see its --help)")
    ap.add_argument("src")
    ap.add_argument("--out", required=True)
    ap.add_argument("--weights-dtype", required=True)
    ap.add_argument("--compute-dtype", required=True)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--no-progress", action="store_true")
    ap.set_defaults(func=run)
    return run_subcommand(ap.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
