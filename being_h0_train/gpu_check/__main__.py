"""Command line of the GPU check: ``python -m being_h0_train.gpu_check`` (what ``scripts/gpu_check.sh`` runs)."""

from __future__ import annotations

import argparse
import sys

from . import __doc__ as PACKAGE_DOC
from .check import run_check
from .report import ROW_KEYS, format_report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m being_h0_train.gpu_check", description=PACKAGE_DOC,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="gpu_check.json", help="JSON report (rewritten after every row)")
    ap.add_argument("--cpu-smoke", action="store_true",
                    help="tiny shape on CPU, few iterations: every part that runs without a GPU (tests use it)")
    ap.add_argument("--preset", default=None, help="backbone preset (default internvl3-1b; tiny with --cpu-smoke)")
    ap.add_argument("--device", choices=("cuda", "cpu"), default=None, help="default cuda (cpu with --cpu-smoke)")
    ap.add_argument("--iters", type=int, default=None, help="timed chunks per row (default 100; 5 with --cpu-smoke)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed chunks per row first (default 10; 2 smoke)")
    ap.add_argument("--chunk-len", type=int, default=16, help="action queries = chunk steps (default 16)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: library's; 1 with --cpu-smoke)")
    ap.add_argument("--rows", default=",".join(ROW_KEYS),
                    help=f"comma list of rows after the fp32 reference (default all: {','.join(ROW_KEYS)})")
    ap.add_argument("--budget-s", type=float, default=420.0,
                    help="expensive rows skip themselves when less time than they need is left (default 420 s)")
    ap.add_argument("--sim", action=argparse.BooleanOptionalAction, default=None,
                    help="also run one closed-loop virtual-rig episode (default: on for GPU runs, off for --cpu-smoke)")
    args = ap.parse_args(argv)
    smoke = args.cpu_smoke
    args.preset = args.preset or ("tiny" if smoke else "internvl3-1b")
    args.device = args.device or ("cpu" if smoke else "cuda")
    args.iters = args.iters if args.iters is not None else (5 if smoke else 100)
    args.warmup = args.warmup if args.warmup is not None else (2 if smoke else 10)
    args.sim = (not smoke) if args.sim is None else args.sim
    args.threads = args.threads if args.threads is not None else (1 if smoke else 0)
    args.rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in args.rows if r not in ROW_KEYS]
    if unknown:
        ap.error(f"--rows: unknown {unknown}; choose from {','.join(ROW_KEYS)}")
    if args.iters < 1 or args.warmup < 0 or args.chunk_len < 1:
        ap.error("--iters and --chunk-len must be >= 1, --warmup >= 0")
    report = run_check(args)
    print(format_report(report))
    print(f"wrote {args.out}")
    if "error" in report:
        return 2
    failed = [r["name"] for r in report["rows"] if r["status"] == "failed" or r["parity_ok"] is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
