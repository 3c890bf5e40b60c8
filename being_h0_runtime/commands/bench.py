"""`being-h0 bench WHICH`: benchmarks and success-rate trials; each one's parser is its module's own."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from .tree import add_lazy_subparsers, adopt, new_parser

HELP = "benchmarks and success-rate trials"

#: WHICH -> (module with build_parser() and run_parsed(args, parser), one-line help, an example's arguments)
BENCHES: dict[str, tuple[str, str, str]] = {
    "latency": ("being_h0_runtime.bench.latency", "policy inference latency per backend (p50/p99)",
                "--iters 50"),
    "dds": ("being_h0_runtime.bench.dds_images", "640x480 image latency/throughput over DDS vs stock serialisation",
            "--count 150 --rate 30"),
    "hand-link": ("being_h0_runtime.bench.hand_link",
                  "Inspire serial read+write rate over a pty, legacy vs fast cycle", "--per-register"),
    "e2e": ("being_h0_runtime.bench.e2e", "camera frame -> first action applied, per stage, inproc vs DDS (plot)",
            "--duration 60 --rounds 3"),
    "control-loop": ("being_h0_runtime.bench.control_loop", "control loop period and e-stop-to-hold latency",
                     "--rates 100 1000 --duration 3"),
    "strategies": ("being_h0_runtime.bench.strategies", "chunk execution strategies compared on the virtual rig",
                   "--seeds 5 --variation seen"),
    "load": ("being_h0_runtime.bench.load", "closed-loop success beside 0, 1, 2 CPU-burning processes, Wilson intervals",
             "--seeds 10 --burners 0 1 2 --json load.json"),
    "teleop": ("being_h0_runtime.bench.teleop_latency", "teleop input-to-command latency", "--packets 300"),
    "run": ("being_h0_runtime.bench.runner", "success-rate trials (resumable, SQLite results)",
            "--tasks pick_place_toy --engine models/pp --trials 20 --results r.sqlite --out bench"),
    "report": ("being_h0_runtime.bench.report", "success-rate report with Wilson intervals and plots",
               "--results r.sqlite --out bench/report"),
    "language": ("being_h0_runtime.bench.language", "same scene, other instruction: does the engine follow it?",
                 "--engine models/being-h0-sim-multitask --scenes 10"),
}
DESCRIPTION = """\
Benchmarks of the runtime's paths (each prints its figures and, with --json, writes them), and
success-rate trials of a policy on the virtual or real rig (run, then report).  Every WHICH has
options of its own: being-h0 bench WHICH --help."""
EXAMPLES = """\
  being-h0 bench control-loop                  control loop period and e-stop latency (a few seconds)
  being-h0 bench run --tasks pick_place_toy --engine models/pp --trials 20 --results r.sqlite --out bench
  being-h0 bench run --help                    each benchmark's own options
"""


def register(sub: Any) -> None:
    sub.add_lazy("bench", HELP, build_parser)


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = new_parser(prog, DESCRIPTION, EXAMPLES)
    which = add_lazy_subparsers(p, dest="which", metavar="WHICH")
    for name, (_, help_, _) in BENCHES.items():
        which.add_lazy(name, help_, lambda child_prog, n=name: _adopt(n, child_prog))
    return p


def _adopt(name: str, prog: str) -> argparse.ArgumentParser:
    module_name, _, example = BENCHES[name]
    module = importlib.import_module(module_name)
    parser = module.build_parser()
    return adopt(parser, prog, run=lambda args: module.run_parsed(args, parser),
                 examples=f"  {prog} {example}")
