"""Real-time control-loop benchmark for the safety supervisor and motion gate.

What it answers, per control rate (default 100 Hz and 1 kHz):

* loop period p50/p99/max and jitter, for a bare loop and for the loop with
  the safety stack (gate.decide + supervisor.step + watchdog feed), both
  measured in the same run;
* per-cycle compute cost of the safety stack vs the bare loop's work
  (p50/p99 and the ratio);
* e-stop-to-hold latency: a second thread calls EStopLatch.trigger() at
  random times; latency is from that call to the end of the first cycle that
  outputs "hold". The loop then plays operator: waits, resets, resumes.

Run:  python -m being_h0_runtime.bench.control_loop --duration 3
Timing is wall clock (time.perf_counter) with sleep + a final busy-wait of
--spin-us microseconds before each deadline; on a loaded machine expect long
tails, which is exactly what the report is for.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np

from being_h0_runtime.rig import READY_Q
from being_h0_runtime.safety import (
    CadenceMonitor,
    EStopLatch,
    HandLimits,
    MotionGate,
    SafetyConfig,
    Supervisor,
    Watchdog,
    franka_fr3_limits,
)

from .neighbours import cpu_burners

HOME = np.array([*READY_Q, 0.2, 0.2, 0.2, 0.2, 0.3, 0.5])  # arm at its ready pose, hand part-closed


def _wait_until(deadline: float, spin_s: float) -> None:
    while True:
        rem = deadline - time.perf_counter()
        if rem <= 0:
            return
        if rem > spin_s:
            time.sleep(rem - spin_s)


def _target(t: float) -> np.ndarray:
    """A smooth reference: each joint swings +-0.2 rad, hand closes/opens."""
    ph = 2 * np.pi * 0.5 * t
    q = HOME.copy()
    q[:7] += 0.2 * np.sin(ph + np.arange(7))
    q[7:] = 0.5 + 0.4 * np.sin(ph + np.arange(6))
    return q


@dataclass
class Pct:
    p50_us: float
    p99_us: float
    max_us: float

    @staticmethod
    def of(x_s: np.ndarray | list[float]) -> Pct:
        a = np.asarray(x_s, dtype=float) * 1e6
        if a.size == 0:
            return Pct(float("nan"), float("nan"), float("nan"))
        return Pct(float(np.percentile(a, 50)), float(np.percentile(a, 99)), float(a.max()))


@dataclass
class RateResult:
    rate_hz: float
    cycles_bare: int
    cycles_safety: int
    period_bare: Pct
    period_safety: Pct
    jitter_std_bare_us: float
    jitter_std_safety_us: float
    over_budget_bare: int
    over_budget_safety: int
    work_bare: Pct
    work_safety: Pct
    cost_ratio_p50: float
    estops: int
    estop_to_hold: Pct
    interventions: dict[str, int]
    #: what the loop's thread ran with (realtime.RealtimeStatus.summary())
    scheduling: str = "normal scheduling"


def run_bare(rate: float, duration: float, spin_s: float) -> tuple[CadenceMonitor, list[float]]:
    period = 1.0 / rate
    cad = CadenceMonitor(period, capacity=int(duration * rate) + 16)
    work: list[float] = []
    sink = np.zeros(13)
    for _now, elapsed in paced_cycles(cad, period, duration, spin_s):
        w0 = time.perf_counter()
        sink = _target(elapsed)  # the work every loop has: compute this cycle's target
        work.append(time.perf_counter() - w0)
    del sink
    return cad, work


def paced_cycles(cad: CadenceMonitor, period: float, duration: float, spin_s: float,
                 resync: bool = False) -> Iterator[tuple[float, float]]:
    """(now, seconds since start) once per cycle of a loop paced at ``period`` for ``duration`` seconds.

    Each cycle is ticked into ``cad`` as it starts; the caller's work runs between the yield and the
    wait for the next deadline. ``resync``: after falling more than 10 periods behind (a stalled
    machine), start again from now instead of bursting to catch up.
    """
    t0 = time.perf_counter()
    deadline = t0
    while True:
        now = time.perf_counter()
        if now - t0 >= duration:
            return
        cad.tick(now)
        yield now, now - t0
        deadline += period
        if resync and deadline < time.perf_counter() - 10 * period:
            deadline = time.perf_counter()
        _wait_until(deadline, spin_s)


def run_safety(
    rate: float, duration: float, spin_s: float, estop_gap: tuple[float, float], hold_s: float, seed: int
) -> tuple[CadenceMonitor, list[float], list[float], Supervisor]:
    period = 1.0 / rate
    cad = CadenceMonitor(period, capacity=int(duration * rate) + 16)
    estop = EStopLatch(clock=time.perf_counter)
    gate = MotionGate(estop, Watchdog(deadline_s=max(0.05, 5 * period)))
    sup = Supervisor([franka_fr3_limits(), HandLimits()], SafetyConfig())
    work: list[float] = []
    latencies: list[float] = []
    stop = threading.Event()
    rng = random.Random(seed)

    def injector() -> None:
        while not stop.is_set():
            if stop.wait(rng.uniform(*estop_gap)):
                return
            if not estop.is_latched:
                estop.trigger("bench", "injected", time.perf_counter())

    th = threading.Thread(target=injector, daemon=True)
    q_state = _target(0.0)  # start on the reference; catching up after holds is part of the work
    measured_trigger: float | None = None
    held_since: float | None = None
    th.start()
    try:
        for now, elapsed in paced_cycles(cad, period, duration, spin_s, resync=True):
            w0 = time.perf_counter()
            target = _target(elapsed)
            gate.watchdog.feed(now)  # a fresh command every cycle (the policy side is not benchmarked here)
            d = gate.decide(now)
            if d.run:
                res = sup.step(target, q_state, period)
                gate.report(res)
                if res.command is not None:
                    q_state = res.command  # ideal tracking
            else:
                sup.reset()
            w1 = time.perf_counter()
            work.append(w1 - w0)
            if not d.run:
                ev = estop.last_trigger
                if ev is not None and ev.stamp != measured_trigger and estop.is_latched:
                    latencies.append(w1 - ev.stamp)  # first hold output after this trigger
                    measured_trigger = ev.stamp
                    held_since = w1
                if held_since is not None and w1 - held_since >= hold_s:
                    gate.operator_reset("bench-operator")  # operator resumes
                    held_since = None
    finally:
        stop.set()
        th.join()
    return cad, work, latencies, sup


def bench_rate(rate: float, args: argparse.Namespace) -> RateResult:
    spin = args.spin_us * 1e-6
    cad_b, work_b = run_bare(rate, args.duration, spin)
    cad_s, work_s, lat, sup = run_safety(
        rate, args.duration, spin, (args.estop_min_gap, args.estop_max_gap), args.hold_s, args.seed
    )
    rb, rs = cad_b.report(), cad_s.report()
    wb, ws = Pct.of(work_b), Pct.of(work_s)
    return RateResult(
        rate_hz=rate,
        cycles_bare=rb.cycles,
        cycles_safety=rs.cycles,
        period_bare=Pct(rb.p50_s * 1e6, rb.p99_s * 1e6, rb.max_s * 1e6),
        period_safety=Pct(rs.p50_s * 1e6, rs.p99_s * 1e6, rs.max_s * 1e6),
        jitter_std_bare_us=rb.jitter_std_s * 1e6,
        jitter_std_safety_us=rs.jitter_std_s * 1e6,
        over_budget_bare=rb.over_budget,
        over_budget_safety=rs.over_budget,
        work_bare=wb,
        work_safety=ws,
        cost_ratio_p50=ws.p50_us / wb.p50_us if wb.p50_us > 0 else float("nan"),
        estops=len(lat),
        estop_to_hold=Pct.of(lat),
        interventions={k: v for k, v in sup.counters.items()},
    )


def bench_rate_both(rate: float, args: argparse.Namespace) -> list[RateResult]:
    """The rate under normal scheduling, then (``--realtime P``) again as SCHED_FIFO P: same run, same load."""
    out = [bench_rate(rate, args)]
    if args.realtime:
        from ..realtime import RealtimeConfig, apply_realtime, drop_realtime

        status = apply_realtime(RealtimeConfig(priority=args.realtime, lock_memory=args.lock_memory))
        try:
            r = bench_rate(rate, args)
        finally:
            drop_realtime()
        r.scheduling = status.summary()
        out.append(r)
    return out


def _pct(p: Pct) -> str:
    return f"p50 {p.p50_us:8.1f}  p99 {p.p99_us:8.1f}  max {p.max_us:8.1f} us"


def format_result(r: RateResult) -> str:
    f = _pct
    added = r.work_safety.p50_us - r.work_bare.p50_us
    return "\n".join(
        [
            f"== {r.rate_hz:.0f} Hz (period {1e6 / r.rate_hz:.0f} us), {r.scheduling}",
            f"  loop period   bare  : {f(r.period_bare)}  jitter std {r.jitter_std_bare_us:.1f} us  over budget {r.over_budget_bare}/{r.cycles_bare}",
            f"  loop period   safety: {f(r.period_safety)}  jitter std {r.jitter_std_safety_us:.1f} us  over budget {r.over_budget_safety}/{r.cycles_safety}",
            f"  cycle work    bare  : {f(r.work_bare)}",
            f"  cycle work    safety: {f(r.work_safety)}  (p50 ratio safety/bare {r.cost_ratio_p50:.1f}x, added p50 {added:.1f} us)",
            f"  e-stop -> hold ({r.estops} triggers): {f(r.estop_to_hold)}",
            f"  supervisor counters: {r.interventions}",
        ]
    )


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m being_h0_runtime.bench.control_loop",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--rates", type=float, nargs="+", default=[100.0, 1000.0], help="control rates in Hz (default: 100 1000)")
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per loop (bare and safety each) per rate (default 3)")
    ap.add_argument("--spin-us", type=float, default=200.0, help="busy-wait this long before each deadline (default 200)")
    ap.add_argument("--estop-min-gap", type=float, default=0.05, help="min seconds between injected e-stops (default 0.05)")
    ap.add_argument("--estop-max-gap", type=float, default=0.25, help="max seconds between injected e-stops (default 0.25)")
    ap.add_argument("--hold-s", type=float, default=0.02, help="how long the loop holds before the operator resets (default 0.02)")
    ap.add_argument("--seed", type=int, default=0, help="seed for e-stop injection times")
    ap.add_argument("--realtime", type=int, default=0, metavar="PRIORITY",
                    help="also run each rate with the loop thread at SCHED_FIFO PRIORITY (1..98) and compare; "
                         "refusals are reported (default 0: normal scheduling only)")
    ap.add_argument("--lock-memory", action="store_true", help="with --realtime: mlockall the process too")
    ap.add_argument("--burners", type=int, default=0, metavar="N",
                    help="run N CPU-burning processes beside the loop for the whole benchmark (default 0)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    return run_parsed(ap.parse_args(argv), ap)


def run_parsed(args: argparse.Namespace, ap: argparse.ArgumentParser) -> int:
    """Run with parsed options (`being-h0 bench` parses them in its own tree); ap.error on bad values."""
    if any(r <= 0 for r in args.rates) or args.duration <= 0:
        ap.error("--rates and --duration must be > 0")
    if not 0 < args.estop_min_gap <= args.estop_max_gap:
        ap.error("need 0 < --estop-min-gap <= --estop-max-gap")
    if not 0 <= args.realtime <= 98 or args.burners < 0:
        ap.error("--realtime takes a priority 1..98 (0: off) and --burners a count >= 0")
    results: list[RateResult] = []
    with cpu_burners(args.burners) as burners:
        if burners:
            print(f"{len(burners)} CPU-burning neighbour(s) running on {os.cpu_count()} CPUs", flush=True)
        for rate in args.rates:
            pair = bench_rate_both(rate, args)
            results += pair
            for r in pair:
                print(format_result(r), flush=True)
            if len(pair) == 2:
                a, b = pair[0].period_safety, pair[1].period_safety
                print(f"  safety loop period p99: normal {a.p99_us:.0f} us, {pair[1].scheduling.split(',')[0]} "
                      f"{b.p99_us:.0f} us ({a.p99_us / b.p99_us:.2f}x); max {a.max_us:.0f} vs {b.max_us:.0f} us",
                      flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([asdict(r) for r in results], fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
