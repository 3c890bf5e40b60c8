"""Camera -> action latency on the sim graph: frame captured -> first action computed from it applied.

Runs the virtual-rig graph (launch/sim.yaml: MuJoCo rig, camera, inference with the
default engine on ONNX Runtime CPU, arm, hand over the emulated Inspire serial
link) with stage tracing on (`being_h0_runtime/bench/tracing.py`: the node classes'
methods are wrapped before the nodes are built; no node code changes), and
follows every camera frame that an inference used:

    capture (render start in the virtual rig, the scene instant the frame shows)
      -> render (stands for exposure + readout + USB of a real camera)
      -> image transport (rig -> camera node -> inference node)
      -> frame wait (until the inference tick that uses it)
      -> pre-processing (observation assembly + tiles, prompt, proprio)
      -> inference (the engine's forward)
      -> chunk transport (publish -> arm/hand node receives it)
      -> chunk scheduling (until the next control cycle, + the executor's action_at)
      -> driver state read (the cycle reads the arm / hand state first: a serial read for the hand)
      -> supervisor (limits, steps)
      -> driver write (arm: sim driver; hand: ANGLE_SET over the 115200-baud emulated link)

Each frame's latency is capture -> the later of the arm's and the hand's first
write after the chunk arrived (also reported per driver). Configurations, all in
one run so they share the machine's load:

* transport ``inproc`` (one process, paced to real time: the baseline) and ``dds``
  (one process per node, Cyclone DDS, as `make run`);
* trigger ``timer`` (the profile's behaviour: infer every replan period on the newest
  frame) and ``frame`` (infer when a fresh frame arrives once the period has passed).

Times are CLOCK_MONOTONIC across processes. The machine's load average is
printed with the figures: on a shared machine, read medians and ratios first.

Example:

    being-h0 bench e2e --duration 20 --out bench_e2e
    being-h0 bench e2e --transport dds --trigger frame --duration 30
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .e2e_stats import GROUPS, STAGES, frame_latencies, plot, print_table, summarise  # noqa: F401 - re-exported


class _PacedInproc:
    """Factory for an InprocContext whose timers fire no earlier than real time (a real-time single process)."""

    @staticmethod
    def create():
        from ..transport.inproc import InprocContext

        class PacedInprocContext(InprocContext):
            def spin_once(self, timeout_s: float = 0.1) -> bool:
                if not hasattr(self, "_origin"):
                    self._origin = (time.monotonic(), self.now())
                if self.deliver_pending():
                    return True
                if self._timers:
                    due = self._timers[0][0]
                    wait = self._origin[0] + (due - self._origin[1]) - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                return super().spin_once(timeout_s)

        return PacedInprocContext()


def _overrides(trigger: str, engine: str, backend: str, sets: list[tuple[str, Any]] | None = None,
               profile: Any = None, run_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """Node parameter overrides: the trigger and engine, plus ``--set NODE.KEY[.SUBKEY...]=VALUE`` items.

    A nested key (``hand.options.status_period_s``) is merged into the profile's own value of the top-level
    parameter (resolved for ``run_dir``), because an override replaces a top-level parameter whole.
    """
    over: dict[str, dict[str, Any]] = {
        "inference": {"trigger": trigger,
                      "policy": {"kind": "engine", "engine_dir": str(Path(engine).resolve()), "backend": backend}}}
    for key, value in sets or []:
        node, *path = key.split(".")
        params = over.setdefault(node, {})
        if len(path) > 1 and path[0] not in params and profile is not None and run_dir is not None:
            params[path[0]] = copy.deepcopy(profile.resolved_params(node, run_dir).get(path[0], {}))
        target = params
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    return over


def parse_set(item: str) -> tuple[str, Any]:
    """``NODE.KEY[.SUBKEY]=VALUE`` (VALUE is JSON, else a plain string) -> (dotted key, value)."""
    key, eq, value = item.partition("=")
    if not eq or "." not in key or not all(key.split(".")):
        raise ValueError(f"--set {item!r}: expected NODE.KEY[.SUBKEY...]=VALUE")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value



def run_episodes(console: Any, profile: Any, seed: int, duration_s: float, spin: Callable[[], None]) -> int:
    """Start episode after episode (seed + k) until ``duration_s`` of wall time; the last one may be cut short.

    ``spin`` advances the graph one step (the in-process executor, or DDS with a dead-node check).
    Returns how many episodes were started.
    """
    episodes = 0
    t_end = None
    while t_end is None or time.monotonic() < t_end:
        episodes += 1
        console.start(profile.task.task_id, profile.task.instruction, episodes, seed + episodes)
        t_end = t_end or time.monotonic() + duration_s
        while not console.finished(episodes) and time.monotonic() < t_end:
            spin()
    return episodes

def run_inproc(trace_dir: Path, *, trigger: str, engine: str, backend: str, duration_s: float, seed: int,
               sets: list[tuple[str, Any]] | None = None) -> dict:
    from ..launch import build_graph, close_graph, load_profile
    from ..operator import OperatorConsole
    from . import tracing

    profile = load_profile("sim")
    ctx = _PacedInproc.create()
    episodes = 0
    tracing.install(trace_dir)
    try:
        with tempfile.TemporaryDirectory(prefix="being_h0_e2e_") as run_dir:
            over = _overrides(trigger, engine, backend, sets, profile, Path(run_dir))
            nodes = build_graph(profile, ctx, Path(run_dir), over)
            try:
                console = OperatorConsole(ctx.create_node("operator_console"))
                ctx.run_for(0.2)
                episodes = run_episodes(console, profile, seed, duration_s, ctx.spin_once)
            finally:
                close_graph(nodes)
    finally:
        tracing.uninstall()
    return {"episodes": episodes}


def run_dds(trace_dir: Path, *, trigger: str, engine: str, backend: str, duration_s: float, seed: int,
            sets: list[tuple[str, Any]] | None = None, startup_timeout_s: float = 120.0) -> dict:
    from ..launch import load_profile
    from ..launcher import GraphLauncher
    from ..operator import OperatorConsole
    from . import tracing

    profile = load_profile("sim")
    run_dir = Path(tempfile.mkdtemp(prefix="being_h0_e2e_dds_"))
    os.environ[tracing.TRACE_ENV] = str(trace_dir)
    over = _overrides(trigger, engine, backend, sets, profile, run_dir)
    launcher = GraphLauncher(profile, run_dir, overrides=over, log_level="WARNING")
    episodes = 0
    try:
        launcher.start()
        ctx = launcher.context(use_sim_time=profile.use_sim_time)
        console = OperatorConsole(ctx.create_node("operator_console"))
        deadline = time.monotonic() + startup_timeout_s
        while not console.history and console.status.header.stamp.sec == 0:
            ctx.spin_once(0.1)
            if launcher.dead():
                raise RuntimeError(f"a node died during start-up: {launcher.dead()}; logs in {run_dir}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the DDS graph did not come up within {startup_timeout_s} s; logs in {run_dir}")
        for _ in range(10):
            ctx.spin_once(0.05)

        def spin() -> None:
            ctx.spin_once(0.05)
            if launcher.dead():
                raise RuntimeError(f"a node died: {launcher.dead()}; logs in {run_dir}")

        episodes = run_episodes(console, profile, seed, duration_s, spin)
        ctx.shutdown()
    finally:
        os.environ.pop(tracing.TRACE_ENV, None)
        launcher.shutdown()
        shutil.rmtree(run_dir, ignore_errors=True)
    return {"episodes": episodes}


# --------------------------------------------------------------------------- report
def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="being-h0 bench e2e", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transport", default="inproc,dds",
                    help="comma list of inproc (one real-time process: the baseline) and dds (default: both)")
    ap.add_argument("--trigger", default="timer,frame",
                    help="comma list of inference triggers: timer (the profile's), frame (default: both)")
    ap.add_argument("--duration", type=float, default=20.0,
                    help="seconds of running task per configuration (episodes restart until then; default 20)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="split --duration into N rounds that visit every configuration in turn, so a machine "
                         "whose load drifts treats them alike (default 1)")
    ap.add_argument("--engine", default="models/being-h0-sim-small", help="engine directory (default: the shipped one)")
    ap.add_argument("--backend", default="onnxruntime", help="engine backend (default onnxruntime, CPU)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="NODE.KEY=VALUE",
                    help="override a node parameter in every configuration, e.g. --set hand.rate_hz=100 or "
                         "--set hand.options.status_period_s=0.05 (nested keys merge into the profile's value)")
    ap.add_argument("--out", default="bench_e2e", help="folder for e2e.json, e2e.png and the raw traces")
    ap.add_argument("--goal-ms", type=float, default=60.0, help="p99 goal for the exit status (default 60)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    return run_parsed(ap.parse_args(argv), ap)


def run_rounds(args: argparse.Namespace, configs: list[tuple[str, str]], sets: list[tuple[str, Any]],
               out: Path) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int], list[float]]:
    """Every configuration once per round; returns (traced frames, episodes per configuration, load after each)."""
    from .tracing import read_events

    all_frames: dict[str, list[dict[str, Any]]] = {}
    episodes: dict[str, int] = {f"{t}/{g}": 0 for t, g in configs}
    loads = []
    for rnd in range(args.rounds):
        for transport, trigger in configs:
            name = f"{transport}/{trigger}"
            trace_dir = out / f"trace-{transport}-{trigger}-r{rnd}"
            shutil.rmtree(trace_dir, ignore_errors=True)
            trace_dir.mkdir(parents=True)
            per_round = args.duration / args.rounds
            print(f"round {rnd + 1}/{args.rounds}: {name} for {per_round:.0f} s ...", flush=True)
            runner = run_inproc if transport == "inproc" else run_dds
            info = runner(trace_dir, trigger=trigger, engine=args.engine, backend=args.backend,
                          duration_s=per_round, seed=args.seed + 100 * rnd, sets=sets)
            episodes[name] += info["episodes"]
            frames = frame_latencies(read_events(trace_dir))
            all_frames.setdefault(name, []).extend(frames)
            loads.append(os.getloadavg()[0])
            print(f"  {len(frames)} frames traced (load {loads[-1]:.1f})", flush=True)
    return all_frames, episodes, loads


def run_parsed(args: argparse.Namespace, ap: argparse.ArgumentParser) -> int:
    """Run with parsed options (`being-h0 bench` parses them in its own tree); ap.error on bad values."""
    transports = [t.strip() for t in args.transport.split(",") if t.strip()]
    triggers = [t.strip() for t in args.trigger.split(",") if t.strip()]
    if not transports or any(t not in ("inproc", "dds") for t in transports):
        ap.error(f"--transport: use inproc and/or dds, got {args.transport!r}")
    if not triggers or any(t not in ("timer", "frame") for t in triggers):
        ap.error(f"--trigger: use timer and/or frame, got {args.trigger!r}")
    if args.duration <= 0:
        ap.error("--duration must be > 0")
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")
    try:
        sets = [parse_set(item) for item in args.set]
    except ValueError as err:
        ap.error(str(err))
    if not (Path(args.engine) / "manifest.json").exists():
        ap.error(f"--engine {args.engine}: no manifest.json there")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    configs = [(t, g) for t in transports for g in triggers]
    all_frames, episodes, loads = run_rounds(args, configs, sets, out)
    results: dict[str, dict[str, Any]] = {}
    for name, frames in all_frames.items():
        results[name] = summarise(frames) | {"episodes": episodes[name]}
    results = {f"{t}/{g}": results[f"{t}/{g}"] for t, g in configs if f"{t}/{g}" in results}
    load = os.getloadavg()
    print(f"1-min load average after each configuration run: min {min(loads):.1f}, max {max(loads):.1f}")
    print_table(results, load)
    baseline = next(iter(results))
    for n in results:
        if n != baseline:
            r = results[n]["total_ms"]["p99"] / results[baseline]["total_ms"]["p99"]
            print(f"p99 {n} / {baseline}: {r:.2f}x")
    report = {"configs": results, "load_avg": load, "load_1min_per_run": loads, "cpus": os.cpu_count(), "args": {k: v for k, v in vars(args).items() if not callable(v)},
              "goal_p99_ms": args.goal_ms}
    tmp = out / "e2e.json.tmp"
    tmp.write_text(json.dumps(report, indent=1))
    os.replace(tmp, out / "e2e.json")
    if any(all_frames.values()):
        plot(results, all_frames, out / "e2e.png")
    print(f"wrote {out / 'e2e.json'} and {out / 'e2e.png'}")
    met = {n: r["total_ms"]["p99"] <= args.goal_ms for n, r in results.items()}
    verdicts = ", ".join(f"{n} {'met' if m else 'NOT met'}" for n, m in met.items())
    print(f"goal p99 <= {args.goal_ms:.0f} ms: {verdicts}")
    return 0 if all(r["frames"] > 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
