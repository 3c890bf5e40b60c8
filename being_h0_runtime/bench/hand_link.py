"""Inspire hand serial-link benchmark: control-cycle rate over an emulated RS-485 line.

Runs N control cycles (one ``read()`` + one ``write()`` of a target) of the
real ``InspireHand`` driver against ``InspireEmulator`` on a pseudo-terminal.
The emulator paces the line at the chosen baud rate (10 bits per byte, 8N1:
86.8 us/byte at 115200) on an absolute line clock, plus a per-request
turnaround, so the numbers are what a real bus at that rate allows, not what
a pty allows.

Driver cycles measured in the same run, against the same emulator, alternating
in blocks of --block cycles (so a machine whose load drifts treats them alike):

* legacy - the previous default: one read spanning ANGLE_ACT..TEMP (78 bytes)
           + one ANGLE_SET write, every cycle (the baseline);
* fast   - ANGLE_ACT alone (12 bytes) while the status registers (force,
           current, error, status, temperature) are younger than
           --status-period-ms, the full 78-byte span otherwise; ANGLE_SET only
           when the target changed; on a full-duplex link (--duplex full) the
           write's ack is collected while the next request is on the wire;
* per-register (--per-register) - each register group in its own read (6
           reads) + the write, as most vendor sample code does.

"bound Hz" is what the wire alone allows for the bytes and transactions that
mode actually used, every byte and every turnaround in series (exact on a
half-duplex line; a pipelined full-duplex link can beat it). The target moves every --change-every cycles (1, the
default, is the worst case for "write only on change"; a policy's actions
change at the action rate, and a held grasp not at all).

Example:

    python -m being_h0_runtime.bench.hand_link --cycles 300 --baud 115200 --turnaround-ms 0.5
    python -m being_h0_runtime.bench.hand_link --duplex full --change-every 1

Prints achieved cycle rate, p50/p99 of cycle times, bytes and transactions per
cycle, the fast/legacy ratio, and whether fast meets --target-hz.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np

from ..drivers.base import HandCommand
from ..drivers.hand.emulator import InspireEmulator
from ..drivers.hand.inspire import InspireHand
from ..drivers.hand.inspire_config import InspireHandConfig
from ..drivers.hand.plants import FirstOrderHandPlant
from ..drivers.hand.protocol import BAUD_CODES

MODES = ("legacy", "fast", "per-register")


def hand_config(mode: str, port: str, *, baud: int, duplex: str, status_period_s: float,
                fast_forces: bool = False) -> InspireHandConfig:
    """The driver settings one benchmark mode stands for."""
    if mode == "legacy":
        return InspireHandConfig(port=port, baudrate=baud, cycle="legacy", timeout_s=0.2)
    if mode == "per-register":
        return InspireHandConfig(port=port, baudrate=baud, cycle="legacy", batch_read=False, timeout_s=0.2)
    if mode == "fast":
        return InspireHandConfig(
            port=port, baudrate=baud, cycle="fast", duplex=duplex, status_period_s=status_period_s, timeout_s=0.2,
            fast_forces=fast_forces,
        )
    raise ValueError(f"unknown mode {mode!r}; use one of {MODES}")


def run_interleaved(
    emu: InspireEmulator,
    modes: list[str],
    *,
    cycles: int,
    warmup: int,
    block: int,
    baud: int,
    duplex: str,
    status_period_s: float,
    change_every: int,
    fast_forces: bool = False,
) -> dict[str, dict[str, object]]:
    """Time ``cycles`` read+write cycles per mode, modes alternating in blocks of ``block`` cycles.

    One driver on one emulator; its cycle settings are switched between blocks. Alternating keeps a
    machine whose load drifts (other jobs) from favouring whichever mode happened to run in a quiet minute.
    """
    configs = {m: hand_config(m, emu.port, baud=baud, duplex=duplex, status_period_s=status_period_s,
                              fast_forces=fast_forces) for m in modes}
    hand = InspireHand(configs[modes[0]])
    hand.configure()
    hand.activate()
    acc = {m: {"cycle_s": [], "total": 0.0, "txn": 0, "bytes": 0, "skipped": 0, "angle_only": 0, "collisions": 0,
               "failed": 0, "fault": ""} for m in modes}

    def use(mode: str) -> None:
        hand.flush()
        hand.config = configs[mode]
        hand._read_plan = hand._plan_reads()

    try:
        for mode in modes:
            use(mode)
            for _ in range(warmup):
                hand.read()
                hand.write(HandCommand(position=np.full(6, 0.5)))
        done = {m: 0 for m in modes}
        while any(done[m] < cycles for m in modes):
            for mode in modes:
                n = min(block, cycles - done[mode])
                if n <= 0:
                    continue
                use(mode)
                _time_block(hand, emu, acc[mode], range(done[mode], done[mode] + n), change_every)
                done[mode] += n
    finally:
        hand.close()
    return {mode: _summary(a, cycles, baud, emu.turnaround_s) for mode, a in acc.items()}


def _time_block(hand: InspireHand, emu: InspireEmulator, a: dict[str, Any], steps: range, change_every: int) -> None:
    """Time one block of read+write cycles into the mode's accumulator ``a`` (driver and line counters too)."""
    st = hand.stats
    txn0, skip0, ang0, fail0 = st.transactions, st.skipped_writes, st.angle_only_reads, st.failed_transactions
    rx0, tx0, col0 = emu.stats.rx_bytes, emu.stats.tx_bytes, emu.stats.collisions
    t_start = time.perf_counter()
    state = None
    for k in steps:
        t0 = time.perf_counter()
        state = hand.read()
        target = 0.5 + 0.4 * np.sin(2 * np.pi * (k // change_every) / 100.0 + np.arange(6))
        hand.write(HandCommand(position=target))
        a["cycle_s"].append(time.perf_counter() - t0)
    hand.flush()  # a pipelined write's ack belongs to this block
    a["total"] += time.perf_counter() - t_start
    a["txn"] += st.transactions - txn0
    a["skipped"] += st.skipped_writes - skip0
    a["angle_only"] += st.angle_only_reads - ang0
    a["failed"] += st.failed_transactions - fail0
    a["bytes"] += emu.stats.rx_bytes - rx0 + emu.stats.tx_bytes - tx0
    a["collisions"] += emu.stats.collisions - col0
    a["fault"] = a["fault"] or ((state.fault if state is not None else "") or "")


def _summary(a: dict[str, Any], cycles: int, baud: int, turnaround_s: float) -> dict[str, object]:
    """One mode's rate, cycle percentiles, wire cost per cycle and the wire-bound rate."""
    cyc = np.asarray(a["cycle_s"])
    txn_per_cycle, bytes_per_cycle = a["txn"] / cycles, a["bytes"] / cycles
    wire_s = bytes_per_cycle * 10.0 / baud + txn_per_cycle * turnaround_s
    return {
        "hz": cycles / a["total"],
        "cycle_p50_ms": float(np.percentile(cyc, 50) * 1e3),
        "cycle_p99_ms": float(np.percentile(cyc, 99) * 1e3),
        "txn_per_cycle": txn_per_cycle,
        "bytes_per_cycle": bytes_per_cycle,
        "wire_bound_hz": 1.0 / wire_s if wire_s > 0 else float("inf"),
        "skipped_writes": a["skipped"],
        "angle_only_reads": a["angle_only"],
        "failed_transactions": a["failed"],
        "collisions": a["collisions"],
        "fault": a["fault"],
    }


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="being-h0 bench hand-link",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--cycles", type=int, default=300, help="timed read+write cycles per mode (default 300)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed cycles per mode before timing (default 20)")
    ap.add_argument(
        "--block", type=int, default=25, help="modes alternate every N cycles, so load drift hits them alike (default 25)"
    )
    ap.add_argument(
        "--mode",
        choices=("both", "legacy", "fast"),
        default="both",
        help="both (default): legacy baseline and fast in the same run; or one of them",
    )
    ap.add_argument("--per-register", action="store_true", help="also run the per-register-read baseline")
    ap.add_argument(
        "--baud",
        type=int,
        default=115200,
        choices=sorted(BAUD_CODES.values()),
        help="line rate the emulator paces every byte at (default 115200, the hand's default)",
    )
    ap.add_argument(
        "--turnaround-ms",
        type=float,
        default=0.5,
        help="hand processing time per request before it answers (default 0.5 ms; real firmware: measure it)",
    )
    ap.add_argument(
        "--duplex",
        choices=("half", "full"),
        default="half",
        help="half: 2-wire RS-485, one talker at a time (default); full: RS-232/RS-422, fast mode pipelines",
    )
    ap.add_argument(
        "--status-period-ms",
        type=float,
        default=50.0,
        help="fast mode: re-read force/error/status/temperature at most this old (default 50 ms = 20 Hz)",
    )
    ap.add_argument(
        "--change-every",
        type=int,
        default=1,
        help="the target changes every N cycles (default 1: every cycle, the worst case for write-on-change)",
    )
    ap.add_argument(
        "--fast-forces",
        action="store_true",
        help="fast mode: angles and forces on every read (one 48-byte ANGLE_ACT..FORCE_ACT span)",
    )
    ap.add_argument("--no-wire-time", action="store_true", help="do not pace bytes (pure pty + Python cost)")
    ap.add_argument("--target-hz", type=float, default=150.0, help="rate the fast mode must reach (default 150)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    return run_parsed(ap.parse_args(argv), ap)


def run_parsed(args: argparse.Namespace, ap: argparse.ArgumentParser) -> int:
    """Run with parsed options (`being-h0 bench` parses them in its own tree); ap.error on bad values."""
    if args.cycles < 10:
        ap.error("--cycles must be at least 10 so p99 means something")
    if args.turnaround_ms < 0:
        ap.error("--turnaround-ms must be >= 0")
    if args.change_every < 1:
        ap.error("--change-every must be >= 1")
    if args.block < 1:
        ap.error("--block must be >= 1")
    if not 0 <= args.status_period_ms <= 1000:
        ap.error("--status-period-ms must be within 0..1000")

    modes = {"both": ["legacy", "fast"], "legacy": ["legacy"], "fast": ["fast"]}[args.mode]
    if args.per_register:
        modes.append("per-register")
    with InspireEmulator(
        FirstOrderHandPlant(),
        baudrate=None if args.no_wire_time else args.baud,
        turnaround_s=args.turnaround_ms / 1e3,
        duplex=args.duplex,
    ) as emu:
        results = run_interleaved(
            emu,
            modes,
            cycles=args.cycles,
            warmup=args.warmup,
            block=args.block,
            baud=args.baud,
            duplex=args.duplex,
            status_period_s=args.status_period_ms / 1e3,
            change_every=args.change_every,
            fast_forces=args.fast_forces,
        )

    ratio = results["fast"]["hz"] / results["legacy"]["hz"] if {"fast", "legacy"} <= results.keys() else None
    healthy = all(not r["fault"] and not r["collisions"] for r in results.values())
    ok = healthy and ("fast" not in results or results["fast"]["hz"] >= args.target_hz)
    if args.json:
        print(json.dumps({"modes": results, "fast_over_legacy": ratio, "meets_target": ok, "args": {k: v for k, v in vars(args).items() if not callable(v)}}))
    else:
        print_table(results, args, ratio, ok)
    return 0 if ok else 1


def print_table(results: dict[str, dict[str, Any]], args: argparse.Namespace, ratio: float | None, ok: bool) -> None:
    wire = "off" if args.no_wire_time else f"{args.baud} baud 8N1 ({1e6 * 10 / args.baud:.1f} us/byte)"
    print(
        f"Inspire hand link: {args.cycles} read+write cycles per mode, wire {wire}, {args.duplex} duplex, "
        f"turnaround {args.turnaround_ms} ms, target changes every {args.change_every} cycle(s)"
    )
    head = f"{'mode':<13} {'Hz':>7} {'bound Hz':>9} {'cycle p50':>10} {'cycle p99':>10} {'txn/cyc':>8} {'B/cyc':>6}"
    print(head + f" {'skipped wr':>10} {'angle-only rd':>13}")
    for name, r in results.items():
        print(
            f"{name:<13} {r['hz']:7.1f} {r['wire_bound_hz']:9.1f} {r['cycle_p50_ms']:8.2f}ms"
            f" {r['cycle_p99_ms']:8.2f}ms {r['txn_per_cycle']:8.2f} {r['bytes_per_cycle']:6.1f}"
            f" {r['skipped_writes']:10d} {r['angle_only_reads']:13d}"
        )
    if ratio is not None:
        print(f"fast / legacy rate: {ratio:.2f}x (same emulator, same run)")
    for name, r in results.items():
        if r["fault"] or r["collisions"]:
            print(f"{name}: FAULT {r['fault']!r}, {r['collisions']} collisions on the line")
    if "fast" in results:
        print(f"target {args.target_hz:.0f} Hz for fast: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
