"""Inspire hand serial-link benchmark: control-cycle rate over an emulated RS-485 line.

Runs N control cycles (one ``read()`` + one ``write()`` of a moving target)
of the real ``InspireHand`` driver against ``InspireEmulator`` on a
pseudo-terminal. The emulator charges every request and reply the time its
bytes take at the chosen baud rate (10 bits per byte, 8N1) plus a per-request
turnaround, so the numbers are what a real bus at that rate allows, not what
a pty allows.

Two strategies are measured in the same run, against the same emulator:

* batched  - the driver's default: one read spanning ANGLE_ACT..TEMP (78 bytes)
             + one ANGLE_SET write per cycle;
* baseline - each register group read in its own transaction (angle, force,
             current, error, status, temperature: 6 reads) + the same write,
             as most sample code does.

Example:

    python -m being_h0_runtime.bench.hand_link --cycles 300 --baud 115200 --turnaround-ms 0.5

Prints achieved cycle rate, p50/p99 of cycle and transaction times, the
batched/baseline ratio, and whether the batched rate meets --target-hz.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import deque

import numpy as np

from ..drivers.base import HandCommand
from ..drivers.hand.emulator import FirstOrderHandPlant, InspireEmulator
from ..drivers.hand.inspire import InspireHand, InspireHandConfig
from ..drivers.hand.protocol import BAUD_CODES


def run_strategy(emu: InspireEmulator, *, batch: bool, cycles: int, warmup: int, baud: int) -> dict[str, object]:
    """Time ``cycles`` read+write cycles with one driver strategy; returns summary figures."""
    hand = InspireHand(InspireHandConfig(port=emu.port, baudrate=baud, batch_read=batch, timeout_s=0.05))
    hand.configure()
    hand.activate()
    try:
        for i in range(warmup):
            hand.read()
            hand.write(HandCommand(position=np.full(6, 0.5)))
        hand.stats.latencies_s = deque()  # unbounded for this run
        txn0 = hand.stats.transactions
        cycle_s = np.empty(cycles)
        t_start = time.perf_counter()
        for i in range(cycles):
            t0 = time.perf_counter()
            state = hand.read()
            target = 0.5 + 0.4 * np.sin(2 * np.pi * i / 100.0 + np.arange(6))
            hand.write(HandCommand(position=target))
            cycle_s[i] = time.perf_counter() - t0
        total = time.perf_counter() - t_start
        txn = np.array(hand.stats.latencies_s) * 1e3
        return {
            "hz": cycles / total,
            "cycle_p50_ms": float(np.percentile(cycle_s, 50) * 1e3),
            "cycle_p99_ms": float(np.percentile(cycle_s, 99) * 1e3),
            "txn_p50_ms": float(np.percentile(txn, 50)),
            "txn_p99_ms": float(np.percentile(txn, 99)),
            "txn_per_cycle": (hand.stats.transactions - txn0) / cycles,
            "failed_transactions": float(hand.stats.failed_transactions),
            "fault": state.fault or "",
            "link": {d.name: d.values for d in hand.diagnostics()}["inspire_hand: link"],
        }
    finally:
        hand.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m being_h0_runtime.bench.hand_link",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--cycles", type=int, default=300, help="timed read+write cycles per strategy (default 300)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed cycles before timing (default 20)")
    ap.add_argument(
        "--baud",
        type=int,
        default=115200,
        choices=sorted(BAUD_CODES.values()),
        help="line rate the emulator charges for every byte (default 115200, the hand's default)",
    )
    ap.add_argument(
        "--turnaround-ms",
        type=float,
        default=0.5,
        help="hand processing time per request before it answers (default 0.5 ms; real firmware: measure it)",
    )
    ap.add_argument("--no-wire-time", action="store_true", help="do not charge byte time (pure pty + Python cost)")
    ap.add_argument("--target-hz", type=float, default=60.0, help="rate the batched strategy must reach (default 60)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args(argv)
    if args.cycles < 10:
        ap.error("--cycles must be at least 10 so p99 means something")
    if args.turnaround_ms < 0:
        ap.error("--turnaround-ms must be >= 0")

    plant = FirstOrderHandPlant()
    with InspireEmulator(
        plant, baudrate=None if args.no_wire_time else args.baud, turnaround_s=args.turnaround_ms / 1e3
    ) as emu:
        batched = run_strategy(emu, batch=True, cycles=args.cycles, warmup=args.warmup, baud=args.baud)
        baseline = run_strategy(emu, batch=False, cycles=args.cycles, warmup=args.warmup, baud=args.baud)

    ratio = batched["hz"] / baseline["hz"]
    ok = batched["hz"] >= args.target_hz and not batched["fault"] and not baseline["fault"]
    if args.json:
        print(json.dumps({"batched": batched, "baseline": baseline, "speedup": ratio, "meets_target": ok}))
    else:
        wire = "off" if args.no_wire_time else f"{args.baud} baud 8N1"
        print(f"Inspire hand link: {args.cycles} read+write cycles, wire time {wire}, turnaround {args.turnaround_ms} ms")
        print(f"{'strategy':<10} {'Hz':>8} {'txn/cycle':>10} {'cycle p50':>10} {'cycle p99':>10} {'txn p50':>9} {'txn p99':>9}")
        for name, r in (("batched", batched), ("baseline", baseline)):
            print(
                f"{name:<10} {r['hz']:8.1f} {r['txn_per_cycle']:10.1f} {r['cycle_p50_ms']:8.2f}ms"
                f" {r['cycle_p99_ms']:8.2f}ms {r['txn_p50_ms']:7.2f}ms {r['txn_p99_ms']:7.2f}ms"
            )
        print(f"batched / baseline rate: {ratio:.2f}x")
        for name, r in (("batched", batched), ("baseline", baseline)):
            if r["fault"]:
                print(f"{name}: FAULT {r['fault']} (link {r['link']})")
        print(f"target {args.target_hz:.0f} Hz: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
