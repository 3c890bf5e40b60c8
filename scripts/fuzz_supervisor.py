#!/usr/bin/env python3
"""Fuzz the safety supervisor and print how many cycles gave a violating command or an exception.

Every cycle must end in a command inside the limits or a hold with a safety event
(see being_h0_runtime/safety/fuzz.py for the property and the oracle). Examples:

    python scripts/fuzz_supervisor.py --cases 100000            # the figure in issue #16
    python scripts/fuzz_supervisor.py --cases 1000000 --seed 7   # a longer, different run

Exit status 0 when there were no violations, no escapes and no internal errors, 1 otherwise.
Needs the dev extra (hypothesis).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from being_h0_runtime.safety.fuzz import fuzz  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=100_000, help="supervisor cycles to run (default 100000)")
    ap.add_argument("--steps", type=int, default=100, help="cycles per generated episode (default 100)")
    ap.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: the fixed, derandomized run "
                                                           "that the test suite uses)")
    args = ap.parse_args(argv)
    if args.cases < 1 or args.steps < 1:
        ap.error("--cases and --steps must be >= 1")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy overflow warning in the loop counts as an escape
        counts = fuzz(args.cases, steps=args.steps, seed=args.seed, derandomize=args.seed is None)
    print(f"{counts.summary()}  ({time.perf_counter() - t0:.1f} s)")
    for example in counts.examples:
        print("  " + example)
    return 0 if counts.violations == counts.escapes == counts.internal_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
