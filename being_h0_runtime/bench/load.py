"""`being-h0 bench load`: closed-loop success against CPU load (issue #18: "10 of 10 `make run` with two burners").

For each seed, each execution strategy asked for and each burner setting
(interleaved, so that drift in the machine's own load hits every setting
alike) it runs one episode of the `make run` graph - every node its own
process over DDS on loopback, the profile's engine - beside 0, 1, 2 ...
CPU-burning neighbour processes (neighbours.py), and reports per strategy
and setting: success k/n with its Wilson 95% interval, median task time of
the successes, median delay from RUNNING to the first chunk, the inference
delay the executors saw (chunk stamp - observation stamp, sim time) and the
1-minute load average. `--transport inproc` runs the same episodes in one
lockstep process: there load costs wall time only (the control).

Burners are started before the graph (they compete with its start-up too)
and are always stopped, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ConfigError
from .load_episode import EpisodeResult, run_dds, run_inproc
from .neighbours import cpu_burners
from .stats import wilson_interval


@dataclass
class LoadEpisode:
    strategy: str
    burners: int
    seed: int
    load1_before: float
    result: EpisodeResult


@dataclass
class LoadCell:
    """One strategy beside one number of burners."""

    strategy: str
    burners: int
    successes: int
    episodes: int
    wilson_low: float
    wilson_high: float
    task_s_p50: float
    first_chunk_s_p50: float
    delay_p50_ms: float
    delay_max_ms: float
    wall_s_mean: float
    load1_mean: float


def _median(xs: list[float]) -> float:
    finite = [x for x in xs if not math.isnan(x)]
    return float(np.median(finite)) if finite else math.nan


def summarise(episodes: list[LoadEpisode]) -> list[LoadCell]:
    cells = []
    for strategy, burners in dict.fromkeys((e.strategy, e.burners) for e in episodes):
        rs = [e.result for e in episodes if e.strategy == strategy and e.burners == burners]
        k = sum(r.success for r in rs)
        lo, hi = wilson_interval(k, len(rs))
        delays = [r.delay_max_ms for r in rs if not math.isnan(r.delay_max_ms)]
        cells.append(LoadCell(
            strategy, burners, k, len(rs), lo, hi, _median([r.task_s for r in rs if r.success]),
            _median([r.first_chunk_s for r in rs]), _median([r.delay_p50_ms for r in rs]),
            max(delays) if delays else math.nan, float(np.mean([r.wall_s for r in rs])),
            float(np.mean([e.load1_before for e in episodes if e.strategy == strategy and e.burners == burners]))))
    return sorted(cells, key=lambda c: (c.strategy, c.burners))


def format_table(cells: list[LoadCell]) -> str:
    head = (f"{'strategy':<10} {'burners':>7} {'success':>8} {'Wilson 95%':>13} {'task s':>7} {'1st chunk':>9} "
            f"{'delay ms':>13} {'wall s':>7} {'load1':>6}\n"
            f"{'':<10} {'':>7} {'':>8} {'':>13} {'p50 ok':>7} {'s p50':>9} {'p50 / max':>13} {'mean':>7} {'mean':>6}")
    lines = [head, "-" * len(head.splitlines()[0])]
    for c in cells:
        lines.append(f"{c.strategy:<10} {c.burners:>7} {c.successes:>4}/{c.episodes:<3} "
                     f"{f'[{100 * c.wilson_low:.0f}, {100 * c.wilson_high:.0f}]%':>13} {c.task_s_p50:>7.1f} "
                     f"{c.first_chunk_s_p50:>9.2f} {f'{c.delay_p50_ms:.0f} / {c.delay_max_ms:.0f}':>13} "
                     f"{c.wall_s_mean:>7.1f} {c.load1_mean:>6.1f}")
    return "\n".join(lines)


def _json_safe(value: Any) -> Any:
    """NaN -> null: the file stays standard JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def write_json(path: Path, episodes: list[LoadEpisode], meta: dict[str, Any]) -> None:
    """Every episode and the table's cells; written next to `path`, then renamed over it."""
    doc = _json_safe({**meta, "cells": [asdict(c) for c in summarise(episodes)],
                      "episodes": [asdict(e) for e in episodes]})
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(doc, indent=2))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def episode_overrides(profile_name: str, engine: str, strategy: str | None,
                      time_limit_s: float | None) -> tuple[dict[str, dict[str, Any]], str]:
    """Node overrides for one setting and the executor the actuators will run (for the table)."""
    from ..launch import load_profile, with_engine_execution
    from ..policy.expert import with_expert
    from .trial import strategy_of, strategy_overrides

    over: dict[str, dict[str, Any]] = strategy_overrides(strategy)
    if time_limit_s:
        over["task"] = {"time_limit_s": time_limit_s}
    if engine == "expert":
        over = with_expert(over)
    elif engine != "default":
        over.setdefault("inference", {}).update({"policy.kind": "engine", "policy.engine_dir": str(Path(engine).resolve())})
    profile = load_profile(profile_name)
    over = with_engine_execution(profile, Path(profile.base_dir), over)
    return over, strategy_of(profile_name, over) or "async"


def command_line(args: argparse.Namespace) -> str:
    """The command that reruns this measurement (recorded in the JSON)."""
    parts = ["being-h0", "bench", "load", "--seeds", str(args.seeds), "--first-seed", str(args.first_seed),
             "--burners", *map(str, args.burners), "--engine", args.engine, "--transport", args.transport]
    if args.strategies:
        parts += ["--strategies", *args.strategies]
    if args.time_limit:
        parts += ["--time-limit", f"{args.time_limit:g}"]
    if args.profile != "sim":
        parts += ["--profile", args.profile]
    return shlex.join(parts)


Runner = Callable[[str, int, dict[str, dict[str, Any]]], EpisodeResult]


def run_settings(runner: Runner, profile: str, seeds: list[int], settings: list[tuple[str, dict[str, Any]]],
                 burners: list[int], progress: bool = True, settle_s: float = 1.0) -> list[LoadEpisode]:
    """Every (seed, setting, burners) once, interleaved; an interruption raises KeyboardInterrupt with what
    finished (`.partial`). The burners stop with each episode, whatever ends it."""
    done: list[LoadEpisode] = []
    try:
        for seed in seeds:
            for label, over in settings:
                for n in burners:
                    with cpu_burners(n):
                        time.sleep(settle_s if n else 0.0)  # the burners take their share before the graph starts
                        load1 = os.getloadavg()[0]
                        r = runner(profile, seed, over)
                    done.append(LoadEpisode(label, n, seed, load1, r))
                    if progress:
                        print(f"  {label:<9} burners {n} seed {seed:3d} (load1 {load1:4.1f}): {r.state:<9} task "
                              f"{r.task_s:5.1f} s, first chunk {r.first_chunk_s:5.2f} s, wall {r.wall_s:5.1f} s"
                              + (f"  [{r.error}]" if r.error else ""), file=sys.stderr, flush=True)
    except BaseException as err:
        from .. import interrupts

        # a Ctrl-C/SIGTERM that landed in C code (an extension's import, a DDS callback) surfaces as another
        # exception; interrupts.py remembers the request, so it is still an interruption
        if not isinstance(err, KeyboardInterrupt) and not interrupts.requested():
            raise
        stop = KeyboardInterrupt()
        stop.partial = done  # type: ignore[attr-defined]
        raise stop from err
    return done


HELP = __doc__.split("\n\n", 1)[1]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="being-h0 bench load", description=HELP,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="examples:\n  being-h0 bench load --seeds 10 --burners 0 1 2 --json load.json\n"
                                        "  being-h0 bench load --seeds 5 --strategies ensemble rtc --burners 2")
    ap.add_argument("--burners", type=int, nargs="+", default=[0, 1, 2],
                    help="CPU-burning neighbour processes per setting (default 0 1 2)")
    ap.add_argument("--seeds", type=int, default=10, help="episodes per setting, seeds first-seed.. (default 10)")
    ap.add_argument("--first-seed", type=int, default=0, help="first seed (default 0, as `make run`)")
    ap.add_argument("--strategies", nargs="+", default=None, metavar="NAME",
                    help="run each of these chunk executors (sync async ensemble crossfade rtc); default: the "
                         "one the profile or the engine manifest chooses, as `make run`")
    ap.add_argument("--engine", default="default", metavar="default|expert|DIR",
                    help="the profile's engine (default), the scripted expert, or an engine directory")
    ap.add_argument("--profile", default="sim", help="virtual-rig launch profile (default sim)")
    ap.add_argument("--transport", default="dds", choices=["dds", "inproc"],
                    help="dds: one process per node, as `make run` (default); inproc: one lockstep process")
    ap.add_argument("--time-limit", type=float, default=None, help="task time limit, s (default: the profile's)")
    ap.add_argument("--startup-timeout", type=float, default=120.0,
                    help="seconds a DDS graph may take to come up (default 120)")
    ap.add_argument("--json", type=Path, default=None, help="also write every episode and the table to this file")
    ap.add_argument("--quiet", action="store_true", help="no per-episode lines")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    return run_parsed(ap.parse_args(argv), ap)


def run_parsed(args: argparse.Namespace, ap: argparse.ArgumentParser) -> int:
    from .. import interrupts
    from ..policy.execution import make_executor

    if args.seeds < 1 or not args.burners or any(not 0 <= n <= 16 for n in args.burners):
        ap.error("--seeds must be >= 1 and each --burners value in 0..16")
    for name in args.strategies or []:
        try:
            make_executor(name)
        except ValueError as err:
            ap.error(f"--strategies: {err}")
    interrupts.install()  # SIGTERM too stops the burners (cpu_burners' finally)
    settings: list[tuple[str, dict[str, Any]]] = []
    try:
        for strategy in args.strategies or [None]:
            over, label = episode_overrides(args.profile, args.engine, strategy, args.time_limit)
            settings.append((label, over))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    runner: Runner = run_inproc if args.transport == "inproc" else \
        (lambda p, seed, over: run_dds(p, seed, over, startup_timeout_s=args.startup_timeout))
    interrupted = False
    try:
        episodes = run_settings(runner, args.profile, seeds, settings, args.burners, progress=not args.quiet)
    except KeyboardInterrupt as stop:
        interrupts.acknowledge()
        episodes, interrupted = getattr(stop, "partial", []), True
    command = command_line(args)
    print(f"{args.profile} profile, {args.transport}, engine {args.engine}, seeds {seeds[0]}..{seeds[-1]}, "
          f"{os.cpu_count()} CPUs{'; interrupted' if interrupted else ''}: {len(episodes)} episodes")
    if episodes:
        print(format_table(summarise(episodes)))
        if args.json:
            write_json(args.json, episodes, {"bench": "load", "command": command, "transport": args.transport,
                                             "engine": args.engine, "profile": args.profile, "cpus": os.cpu_count(),
                                             "interrupted": interrupted})
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
