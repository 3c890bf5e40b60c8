"""`being-h0 bench strategies`: chunk execution strategies compared on the virtual rig.

The policy returns 16-step chunks; how consecutive chunks are stitched
(policy/execution/: sync, async, ensemble, crossfade, rtc) decides whether the
arm sees a jump where one chunk takes over from the last. For each strategy
the same seeds run the whole graph in-process (deterministic), with the
engine the launch profile runs (or --engine DIR | expert), and a probe node
records every /arm/command the arm node sent and every /action_chunk
arrival. Reported per strategy and simulated inference delay:

  success        k/n episodes the simulator judged successful
  (each metric twice: for the strategy's output, the safety supervisor's input,
  and for what the arm node commanded after the supervisor's limits)
  jerk           RMS jerk of the commanded arm trajectory (rad/s^3), median over seeds
  boundary step  largest per-cycle command change (rad, inf-norm over joints) in the
                 cycle a new chunk arrived, max over seeds
  step p99       99th percentile of all per-cycle command changes (rad) - the
                 ordinary step, to read the boundary step against

Only the cycles while the task is running count (homing is a planned move).
`--write-manifest` records the winner in the engine's manifest (strategy_advice.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ConfigError
from .strategy_results import EpisodeRow, StrategySummary, TrajectoryMetrics
from .engines import PROFILE_ENGINE, engine_for

STRATEGIES = ("sync", "async", "ensemble", "crossfade", "rtc")


class _DelayedPublisher:
    """Stands in for the inference node's chunk publisher: delivers each chunk `latency_s` of sim time later.

    In-process, inference takes no simulated time, so without this every
    strategy sees zero-latency chunks (and sync == async). The chunk keeps its
    observation stamp, exactly as a slow engine's chunk would.
    """

    def __init__(self, inner: Any, handle: Any, latency_s: float) -> None:
        self.inner, self.handle, self.latency_s = inner, handle, latency_s

    def publish(self, msg: Any) -> None:
        def fire() -> None:
            timer.cancel()
            self.inner.publish(msg)

        timer = self.handle.create_timer(self.latency_s, fire)


class CommandProbe:
    """Collects arm targets and commands and /action_chunk arrival times (setup hook of run_episode_inproc).

    `raw_*` is what the execution strategy asked for (the supervisor's input),
    `times/positions` what the arm node commanded after the safety supervisor
    (/arm/command); the supervisor's velocity/acceleration limits smooth the
    latter, so both are reported.
    """

    def __init__(self, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self.times: list[float] = []
        self.positions: list[np.ndarray] = []
        self.raw_times: list[float] = []
        self.raw_positions: list[np.ndarray] = []
        self.chunk_times: list[float] = []
        self.running: tuple[float, float] | None = None
        self._running_at: float | None = None

    def setup(self, ctx: Any, nodes: dict[str, Any]) -> None:
        from ..msgs import ActionChunk, JointState, TaskStatus
        from ..transport.api import COMMAND_QOS, LATCHED_QOS, QoS

        self.ctx = ctx
        h = ctx.create_node("strategy_probe")
        h.create_subscription(JointState, "/arm/command", self._on_command, QoS("best_effort", 1000))
        h.create_subscription(ActionChunk, "/action_chunk", lambda m: self.chunk_times.append(ctx.now()),
                              COMMAND_QOS)
        h.create_subscription(TaskStatus, "/task/status", self._on_status, LATCHED_QOS)
        if self.latency_s > 0:
            inf = nodes["inference"]
            inf.chunk_pub = _DelayedPublisher(inf.chunk_pub, h, self.latency_s)
        sup = nodes["arm"].supervisor
        original = sup.step

        def step(target: np.ndarray, *args: Any, **kw: Any) -> Any:
            self.raw_times.append(ctx.now())
            self.raw_positions.append(np.asarray(target, dtype=float).copy())
            return original(target, *args, **kw)

        sup.step = step

    def _on_command(self, msg: Any) -> None:
        self.times.append(self.ctx.now())
        self.positions.append(np.asarray(msg.position, dtype=float))

    def _on_status(self, st: Any) -> None:
        if st.state == "running" and self._running_at is None:
            self._running_at = self.ctx.now()
        elif st.state in ("succeeded", "failed", "timeout", "aborted") and self._running_at is not None \
                and self.running is None:
            self.running = (self._running_at, self.ctx.now())


def trajectory_metrics(times: list[float], positions: list[np.ndarray], chunk_times: list[float],
                       window: tuple[float, float] | None, dt: float) -> TrajectoryMetrics:
    """Jerk and boundary steps over contiguous command segments inside `window` (gaps = holds)."""
    from ..policy.execution import max_boundary_step, trajectory_jerk

    t = np.asarray(times, dtype=float)
    if t.size == 0:
        return TrajectoryMetrics(0.0, 0.0, 0.0, 0, 0)
    x = np.stack(positions)
    if window is not None:
        keep = (t >= window[0] - 1e-9) & (t <= window[1] + 1e-9)
        t, x = t[keep], x[keep]
    if t.size < 2:
        return TrajectoryMetrics(0.0, 0.0, 0.0, int(t.size), 0)
    breaks = np.flatnonzero(np.diff(t) > 1.5 * dt) + 1
    seg_bounds = list(zip(np.r_[0, breaks], np.r_[breaks, t.size]))
    chunks = np.asarray(chunk_times, dtype=float)
    jerk_sq, jerk_n, max_b, n_b, steps = 0.0, 0, 0.0, 0, []
    for a, b in seg_bounds:
        seg_t, seg_x = t[a:b], x[a:b]
        if seg_x.shape[0] >= 4:
            j = trajectory_jerk(seg_x, dt)
            n = seg_x.shape[0] - 3
            jerk_sq += j * j * n
            jerk_n += n
        if seg_x.shape[0] >= 2:
            steps.append(np.max(np.abs(np.diff(seg_x, axis=0)), axis=1))
            # the first command at or after each chunk arrival is the one the new chunk shaped
            inside = chunks[(chunks > seg_t[0]) & (chunks <= seg_t[-1])]
            idx = np.unique(np.searchsorted(seg_t, inside - 1e-9))
            if idx.size:
                n_b += int(idx.size)
                max_b = max(max_b, max_boundary_step(seg_x, idx))
    all_steps = np.concatenate(steps) if steps else np.zeros(1)
    return TrajectoryMetrics(float(np.sqrt(jerk_sq / jerk_n)) if jerk_n else 0.0, max_b,
                             float(np.percentile(all_steps, 99)), int(t.size), n_b)


def run_strategy_episode(strategy: str, seed: int, variation: str = "seen", time_limit_s: float = 30.0,
                         profile: str = "sim", params: dict[str, Any] | None = None,
                         latency_s: float = 0.0, engine: Any = "expert") -> EpisodeRow:
    """One episode; `engine`: an EngineRef or a spec for engine_for."""
    from ..launch import load_profile
    from ..operator import run_episode_inproc
    from .tasks import load_task
    from .trial import trial_overrides

    task = load_task("pick_place_toy")
    executor = {"name": strategy, "params": dict(params or {})}
    extra = {"arm": {"executor": executor}, "hand": {"executor": executor}}
    over = trial_overrides(profile, task, variation, engine_for(engine, profile) if isinstance(engine, str) else engine,
                           time_limit_s, extra)
    arm_rate = float(load_profile(profile).nodes["arm"].params.get("rate_hz", 100.0))
    probe = CommandProbe(latency_s)
    out = run_episode_inproc(profile, seed=seed, overrides=over, time_limit_s=time_limit_s, setup=probe.setup,
                             task_id=task.id, instruction=task.instruction_for(0))
    dt = 1.0 / arm_rate
    m = trajectory_metrics(probe.times, probe.positions, probe.chunk_times, probe.running, dt)
    raw = trajectory_metrics(probe.raw_times, probe.raw_positions, probe.chunk_times, probe.running, dt)
    return EpisodeRow(strategy, seed, out.state, out.success, out.sim_seconds, out.wall_seconds, m, raw)


def compare(strategies: list[str], seeds: list[int], variation: str = "seen", time_limit_s: float = 30.0,
            profile: str = "sim", progress: bool = False, latency_s: float = 0.0,
            engine: Any = "expert") -> list[StrategySummary]:
    """One summary per strategy, the same seeds each; `engine`: an EngineRef or a spec for engine_for (the tests
    use the fast scripted expert)."""
    out = []
    for s in strategies:
        rows = []
        for seed in seeds:
            t = time.perf_counter()
            row = run_strategy_episode(s, seed, variation, time_limit_s, profile, latency_s=latency_s, engine=engine)
            rows.append(row)
            if progress:
                print(f"  {s:<9} {latency_s * 1e3:4.0f} ms seed {seed:3d} {row.state:<9} jerk {row.metrics.jerk_rms:9.2f} "
                      f"boundary {row.metrics.max_boundary_step:.4f} rad  ({time.perf_counter() - t:.1f} s)",
                      file=sys.stderr, flush=True)
        out.append(StrategySummary(
            strategy=s, successes=sum(r.success for r in rows), episodes=len(rows),
            jerk_rms_p50=float(np.median([r.metrics.jerk_rms for r in rows])),
            max_boundary_step=float(max(r.metrics.max_boundary_step for r in rows)),
            step_p99=float(np.median([r.metrics.step_p99 for r in rows])),
            raw_jerk_rms_p50=float(np.median([r.raw.jerk_rms for r in rows])),
            raw_max_boundary_step=float(max(r.raw.max_boundary_step for r in rows)),
            sim_seconds_mean=float(np.mean([r.sim_seconds for r in rows])),
            wall_seconds_mean=float(np.mean([r.wall_seconds for r in rows])), rows=rows,
            latency_ms=latency_s * 1e3))
    return out


def format_table(summaries: list[StrategySummary]) -> str:
    head = (f"{'strategy':<10} {'success':>8} | {'strategy output':^28} | {'commanded (after supervisor)':^44} |"
            f" {'sim s':>6} {'wall s':>6}\n"
            f"{'':<10} {'':>8} | {'jerk p50':>12} {'bound. step':>15} | {'jerk p50':>12} {'bound. step':>15} "
            f"{'step p99':>15} | {'':>6} {'':>6}\n"
            f"{'':<10} {'':>8} | {'(rad/s^3)':>12} {'max (rad)':>15} | {'(rad/s^3)':>12} {'max (rad)':>15} "
            f"{'(rad)':>15} |")
    lines = [head, "-" * len(head.splitlines()[0])]
    for s in summaries:
        lines.append(f"{s.strategy:<10} {s.successes:>4}/{s.episodes:<3} | {s.raw_jerk_rms_p50:>12.1f} "
                     f"{s.raw_max_boundary_step:>15.4f} | {s.jerk_rms_p50:>12.1f} {s.max_boundary_step:>15.4f} "
                     f"{s.step_p99:>15.4f} | {s.sim_seconds_mean:>6.1f} {s.wall_seconds_mean:>6.2f}")
    return "\n".join(lines)


HELP = """\
Compare the chunk execution strategies (sync, async, ensemble, crossfade,
rtc; policy/execution/) on the virtual rig: the same seeds for every
strategy, the whole graph in one deterministic process, each chunk delivered
--latency-ms of sim time after its observation (several values: one table
each). The policy is the engine the launch profile runs (the default engine
for `sim`), or --engine DIR | expert (the scripted expert: fast, for
checking the bench itself). For each strategy prints task success, the RMS
jerk of the commanded arm trajectory (median over seeds), the largest
per-cycle command change at a chunk boundary (max over seeds) and the
ordinary per-cycle change (p99) to read it against. A strategy that
stitches chunks smoothly has a boundary step close to its ordinary step.

--write-manifest records the winner (most successes over all delays, then
the smallest boundary step, then the shortest task time; or --recommend
NAME) with these figures and this command in the engine's manifest.json
(`execution`); arm and hand nodes whose profile pins no executor run it.
"""


EXAMPLES = """\
examples:
  being-h0 bench strategies --seeds 5 --latency-ms 100 400 --json strategies.json
  being-h0 bench strategies --engine expert --strategies sync crossfade --seeds 1
  being-h0 bench strategies --seeds 5 --latency-ms 100 400 --write-manifest
  being-h0 bench strategies --advice-from strategies.json --recommend ensemble
"""


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="being-h0 bench strategies", description=HELP,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=EXAMPLES)
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES,
                    help=f"which strategies (default: all: {' '.join(STRATEGIES)})")
    ap.add_argument("--engine", default=PROFILE_ENGINE, metavar="default|expert|DIR",
                    help="the policy: 'default' = the engine the profile's inference node runs (default), "
                         "'expert' = the scripted expert, or an engine directory")
    ap.add_argument("--seeds", type=int, default=3, help="episodes per strategy, seeds first-seed.. (default 3)")
    ap.add_argument("--first-seed", type=int, default=0, help="first seed (default 0)")
    ap.add_argument("--variation", default="seen", help="virtual-rig variation: seen | unseen | clutter")
    ap.add_argument("--time-limit", type=float, default=30.0, help="task time limit per episode, s (default 30)")
    ap.add_argument("--profile", default="sim", help="virtual-rig launch profile (default sim)")
    ap.add_argument("--latency-ms", type=float, nargs="+", default=[100.0], metavar="MS",
                    help="simulated inference latency: each chunk is delivered this much sim time after its "
                         "observation; several values run every strategy at each (default 100; 0 = "
                         "instantaneous, where sync and async coincide)")
    ap.add_argument("--json", type=Path, default=None, help="also write per-episode numbers to this JSON file")
    ap.add_argument("--write-manifest", action="store_true",
                    help="record the recommended strategy, these figures and this command in the measured "
                         "engine's manifest.json ('execution'; written whole, then renamed into place)")
    ap.add_argument("--recommend", choices=STRATEGIES, default=None,
                    help="with --write-manifest: recommend this strategy instead of the rule's pick (the "
                         "evidence says so)")
    ap.add_argument("--advice-from", type=Path, default=None, metavar="JSON",
                    help="measure nothing: write the advice from an earlier run's --json file into the engine it "
                         "measured (refused if that engine changed since); implies --write-manifest")
    ap.add_argument("--quiet", action="store_true", help="no per-episode lines")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    return run_parsed(ap.parse_args(argv), ap)


def _check(args: argparse.Namespace, ap: argparse.ArgumentParser) -> None:
    if args.seeds < 1:
        ap.error("--seeds must be >= 1")
    if any(not 0 <= ms < 800 for ms in args.latency_ms):
        ap.error("--latency-ms must be in [0, 800) (a chunk lasts 1.6 s; the watchdog holds after 1 s)")
    from .tasks import sim_variations

    if args.variation not in sim_variations():
        ap.error(f"--variation {args.variation!r}: allowed {', '.join(sim_variations())}")
    if args.recommend and not args.write_manifest:
        ap.error("--recommend goes with --write-manifest or --advice-from")
    if args.write_manifest and args.engine == "expert":
        ap.error("--write-manifest: the scripted expert has no manifest; measure an engine (--engine default|DIR)")
    if args.write_manifest and len(set(args.strategies)) < 2:
        ap.error("--write-manifest: a recommendation needs at least two strategies to compare")
    if args.recommend and args.recommend not in args.strategies:
        ap.error(f"--recommend {args.recommend}: not among --strategies {' '.join(args.strategies)}")


def command_line(args: argparse.Namespace, engine_path: str) -> str:
    """The command that reproduces this measurement (recorded as the advice's evidence)."""
    import shlex

    parts = ["being-h0", "bench", "strategies", "--engine", engine_path, "--strategies", *args.strategies,
             "--seeds", str(args.seeds), "--first-seed", str(args.first_seed), "--variation", args.variation,
             "--time-limit", f"{args.time_limit:g}", "--latency-ms", *(f"{ms:g}" for ms in args.latency_ms)]
    if args.profile != "sim":
        parts += ["--profile", args.profile]
    return shlex.join(parts)


def run_parsed(args: argparse.Namespace, ap: argparse.ArgumentParser) -> int:
    """Run with parsed options (`being-h0 bench` parses them in its own tree); ap.error on bad values."""
    if args.advice_from is not None:
        from .strategy_advice import advice_from_json

        return advice_from_json(args.advice_from, args.recommend)
    _check(args, ap)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    try:
        engine = engine_for(args.engine, args.profile)
        summaries: list[StrategySummary] = []
        for ms in args.latency_ms:
            summaries += compare(args.strategies, seeds, args.variation, args.time_limit, args.profile,
                                 progress=not args.quiet, latency_s=ms / 1000.0, engine=engine)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    who = "scripted expert" if engine.policy["kind"] == "expert" else f"engine {engine.label} ({engine.path})"
    for ms in args.latency_ms:
        print(f"virtual rig, {args.variation}, seeds {seeds[0]}..{seeds[-1]}, {who} (16-step chunks at 10 Hz), "
              f"inference latency {ms:.0f} ms (sim time); arm joints, per 10 ms control cycle")
        print(format_table([s for s in summaries if s.latency_ms == ms]))
    for s in summaries:
        s.engine_path, s.engine_label, s.command = engine.path, engine.label, command_line(args, engine.path)
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in summaries], indent=2))
    if args.write_manifest:
        from .strategy_advice import write_advice

        return write_advice(summaries, engine, args.recommend)
    return 0


if __name__ == "__main__":
    sys.exit(main())
