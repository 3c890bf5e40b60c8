"""`being-h0 bench run`: success-rate trials, resumable, one SQLite transaction per trial.

Researchers pick checkpoints by success rate per task (the Being-H0 paper
reports k/20 per task), so the numbers must be reproducible and a long sweep
must survive an interruption:

* trial i of a task/variation uses seed = base_seed + i (recorded), and on the
  virtual rig the whole graph runs in one deterministic in-process executor,
  so the same seed and engine give the same outcome;
* each finished trial is written in one transaction, keyed by
  (engine id, engine checksum, profile, task, variation, seed); a rerun of the
  same command skips finished trials and re-runs the one that was in progress
  (it was never written), so nothing is counted twice;
* on the real rig (``--profile rig``) the operator is prompted to reset the
  scene before each trial and to judge success after it.

See ``main --help`` for the command line and ``bench/report.py`` for the report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import ConfigError

# the pieces of a sweep, re-exported: `runner` is the module people and tests reach for
from .engines import EXPERT_ID, EngineRef, engine_label, resolve_engine  # noqa: F401
from .probe import TERMINAL, TrialProbe, save_png  # noqa: F401
from .results import ResultsDB, TrialResult, iter_cells, load_results, row_engine_label  # noqa: F401
from .strategies import STRATEGIES
from .sweep import PlannedTrial, SweepSummary, plan, run_sweep  # noqa: F401
from .tasks import DEFAULT_TASKS_DIR
from .trial import (  # noqa: F401
    repro_command,
    run_trial,
    strategy_of,
    strategy_overrides,
    trial_overrides,
)


def _stdin_ask(prompt: str) -> str:
    return input(prompt)


# ------------------------------------------------------------------ CLI

HELP = """\
Run success-rate trials of one engine on benchmark tasks and store every
finished trial in a SQLite file (one transaction per trial).

Each task is a YAML file in tasks/ (instructions, scene, reset, success
criterion, time limit, variations, default trial count). Trial i of a
task/variation runs with seed = base seed + i. On the virtual rig (--profile
sim, the default) the whole graph runs in one deterministic process and the
simulator judges success; on the real rig (--profile rig) you are asked to
reset the scene before each trial and to judge success after it.

The run is resumable: run the same command again after an interruption
(Ctrl-C, crash, power cut) and it skips the trials already in --results and
re-runs the one that was in progress. A trial is identified by engine id +
sha256 of the engine manifest ("scripted-expert" for --engine expert),
profile, task, variation and seed, so nothing is counted twice. Raising
--trials later adds trials with new seeds.
"""

EPILOG = """\
examples:
  # the scripted expert, 20 trials of the seen variation on the virtual rig
  being-h0 bench run --tasks pick_place_toy:seen --engine expert --trials 20 \\
      --results bench/results.sqlite --out bench/out
  # a trained engine on all variations (20 trials each, as in the task file), keep recordings
  being-h0 bench run --tasks pick_place_toy --engine models/being-h0-sim-small \\
      --results bench/results.sqlite --out bench/out --record
  # then the report (rates with Wilson 95% intervals, engine comparison, plots)
  being-h0 bench report --results bench/results.sqlite --out bench/report
"""


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="being-h0 bench run", description=HELP, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", required=True, metavar="TASK[:VARIATION]",
                    help="task ids (tasks/ID.yaml) or YAML paths; TASK alone runs all its variations")
    ap.add_argument("--engine", required=True, metavar="DIR|expert",
                    help="engine directory (with manifest.json) or 'expert' for the scripted virtual-rig expert")
    ap.add_argument("--backend", default="auto", choices=["auto", "tensorrt", "onnxruntime", "torch"],
                    help="engine backend (default: auto, as the manifest allows)")
    ap.add_argument("--trials", type=int, default=None,
                    help="trials per task/variation (default: the task file's 'trials', 20 in the paper)")
    ap.add_argument("--base-seed", type=int, default=0, help="seed of trial 0 (trial i uses base + i; default 0)")
    ap.add_argument("--trial", type=int, default=None, metavar="I",
                    help="run only trial I of each task/variation (seed base + I): how a report's "
                         "'reproduce' command re-runs one trial")
    ap.add_argument("--strategy", default=None, choices=STRATEGIES,
                    help="chunk execution strategy for arm and hand (default: the profile's, else the engine "
                         "manifest's; the expert's is async); results of different strategies are kept apart and "
                         "compared in the report")
    ap.add_argument("--results", required=True, type=Path, help="SQLite results file (created; appended to)")
    ap.add_argument("--out", required=True, type=Path, help="directory for frame strips and recordings")
    ap.add_argument("--profile", default="sim",
                    help="launch profile: sim (virtual rig, default), rig (real rig, operator-judged) or a path")
    ap.add_argument("--tasks-dir", type=Path, default=None, help=f"where task ids are looked up "
                    f"(default: {DEFAULT_TASKS_DIR.name}/ at the repository root)")
    ap.add_argument("--time-limit", type=float, default=None, help="override the task's time_limit_s (seconds)")
    ap.add_argument("--record", action="store_true", help="keep each trial's rosbag2 recording under OUT/recordings")
    ap.add_argument("--frames", type=int, default=3,
                    help="frames in each trial's strip (virtual rig; 0 = none; default 3: start, middle, end)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar (one line per trial instead)")
    ap.add_argument("--console", choices=["auto", "on", "off"], default="auto",
                    help="operator console (status line and keys: s a e r y n x q h) instead of the progress bar; "
                         "auto: when stdin and stdout are terminals, on the virtual rig")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    return run_parsed(ap.parse_args(argv), ap)


def run_parsed(args: argparse.Namespace, ap: argparse.ArgumentParser) -> int:
    """Run with parsed options (`being-h0 bench` parses them in its own tree); ap.error on bad values."""
    if args.trials is not None and args.trials < 1:
        ap.error("--trials must be >= 1")
    if args.frames < 0:
        ap.error("--frames must be >= 0")
    if args.trial is not None and args.trial < 0:
        ap.error("--trial must be >= 0")
    try:
        engine = resolve_engine(args.engine, args.backend)
        trials = plan(args.tasks, args.trials, args.base_seed, args.tasks_dir)
        if args.trial is not None:
            trials = [p for p in plan(args.tasks, args.trial + 1, args.base_seed, args.tasks_dir)
                      if p.trial_index == args.trial]
        from ..launch import load_profile

        prof = load_profile(args.profile)
        if prof.rig == "real" and engine.policy["kind"] == "expert":
            raise ConfigError("--engine expert needs the virtual rig (it reads simulator state); give an engine dir")
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    def line(r: TrialResult) -> None:
        if args.no_progress:
            print(f"{r.task}:{r.variation} seed {r.seed:4d}  {r.state:<9}  sim {r.sim_seconds:5.1f} s  "
                  f"wall {r.duration_s:5.1f} s  safety events {r.safety_events}"
                  + (f"\n    why: {r.failure_reason}\n    reproduce: {r.command}" if r.failure_reason else ""),
                  flush=True)

    from ..logs import add_run_log

    add_run_log(args.out)  # the sweep's log beside its results and report
    from contextlib import nullcontext

    from ..console import EpisodeConsole, console_wanted

    # the real rig asks its reset and verdict questions line by line: no single-key console there
    use_console = prof.rig == "virtual" and console_wanted(args.console)
    try:
        with EpisodeConsole(len(trials), what="trial") if use_console else nullcontext() as console:
            summary = run_sweep(trials, engine, args.profile, args.results, args.out, record=args.record,
                                frames=args.frames, time_limit_s=args.time_limit,
                                progress=not args.no_progress and not use_console,
                                ask=_stdin_ask if prof.rig == "real" else None, after_trial=line,
                                strategy=args.strategy, console=console)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished trials are in {args.results}; run the same command again to resume",
              file=sys.stderr)
        return 130
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"engine {engine.label} ({engine.engine_id}): ran {summary.ran} trial(s), "
          f"skipped {summary.skipped} already in {args.results}")
    for cell, (k, n) in summary.per_cell.items():
        print(f"  {cell}: {k}/{n} succeeded in this run")
    print(f"report: being-h0 bench report --results {args.results} --out {args.out / 'report'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
