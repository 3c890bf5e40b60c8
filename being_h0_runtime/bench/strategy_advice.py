"""From `being-h0 bench strategies` figures to an engine manifest's `execution` advice.

The rule, in order: the most successful episodes (summed over every measured
inference delay: an executor that only works when inference is fast is not the
one to ship); then the smallest chunk-boundary step of the strategy's output
(worst over delays: smooth stitching is what the strategies differ in); then
the shortest mean task time of the successful episodes. `--recommend NAME`
overrides the rule; the evidence then says so, next to the same figures.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ConfigError
from ..policy.engine_format import ExecutionAdvice
from .strategy_results import EpisodeRow, StrategySummary, TrajectoryMetrics


@dataclass
class Pooled:
    """One strategy over every measured delay."""

    successes: int = 0
    episodes: int = 0
    #: worst strategy-output chunk-boundary step (rad)
    boundary: float = 0.0
    #: task (sim) seconds of each successful episode
    task_s: list[float] = field(default_factory=list)

    @property
    def task_s_mean(self) -> float:
        return float(np.mean(self.task_s)) if self.task_s else math.inf


def pooled(summaries: Sequence[Any]) -> dict[str, Pooled]:
    out: dict[str, Pooled] = {}
    for s in summaries:
        p = out.setdefault(s.strategy, Pooled())
        p.successes += s.successes
        p.episodes += s.episodes
        p.boundary = max(p.boundary, s.raw_max_boundary_step)
        p.task_s += [r.sim_seconds for r in s.rows if r.success]
    return out


def recommend(summaries: Sequence[Any]) -> str:
    """The strategy the rule above picks (`summaries`: strategies.StrategySummary, one per strategy and delay)."""
    if not summaries:
        raise ValueError("no strategies measured")
    by = pooled(summaries)
    return min(by, key=lambda name: (-by[name].successes, by[name].boundary, by[name].task_s_mean))


def figures(summaries: Sequence[Any]) -> dict[str, dict[str, float]]:
    """`strategy@delay` -> the figures the table printed (JSON-safe: no inf/nan)."""
    out = {}
    for s in summaries:
        ok = [r.sim_seconds for r in s.rows if r.success]
        out[f"{s.strategy}@{s.latency_ms:g}ms"] = {
            "successes": float(s.successes), "episodes": float(s.episodes),
            "raw_jerk_rms_p50": round(s.raw_jerk_rms_p50, 3), "raw_max_boundary_step": round(s.raw_max_boundary_step, 5),
            "jerk_rms_p50": round(s.jerk_rms_p50, 3), "max_boundary_step": round(s.max_boundary_step, 5),
            "task_s_mean_of_successes": round(float(np.mean(ok)), 3) if ok else -1.0,
        }
    return out


def advice_from(summaries: Sequence[Any], command: str, chosen: str | None = None,
                engine_label: str = "") -> ExecutionAdvice:
    """The manifest block for these figures; `chosen` overrides the rule (it must have been measured)."""
    measured = sorted({s.strategy for s in summaries})
    best = recommend(summaries)
    pick = chosen or best
    if pick not in measured:
        raise ValueError(f"--recommend {pick!r} was not measured (measured: {', '.join(measured)})")
    delays = sorted({s.latency_ms for s in summaries})
    line = ", ".join(f"{name} {p.successes}/{p.episodes}" for name, p in pooled(summaries).items())
    why = ("chosen by hand (--recommend); the rule (most successes, then smallest boundary step, then task time) "
           f"picks {best}" if chosen and chosen != best else
           "most successes, then smallest strategy-output chunk-boundary step, then shortest task time")
    summary = (f"{pick}: {why}. Success over inference delays {', '.join(f'{d:g}' for d in delays)} ms: {line}"
               + (f"; engine {engine_label}" if engine_label else "") + ".")
    return ExecutionAdvice.model_validate({
        "recommended": pick, "params": {},
        "evidence": {"command": command, "summary": summary, "figures": figures(summaries),
                     "measured_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}})


def load_summaries(path: Path) -> list[Any]:
    """StrategySummary objects back from a `bench strategies --json` file of an engine (not the expert)."""
    try:
        raw = json.loads(path.read_text())
        out = []
        for d in raw:
            rows = [EpisodeRow(**{**r, "metrics": TrajectoryMetrics(**r["metrics"]), "raw": TrajectoryMetrics(**r["raw"])})
                    for r in d.pop("rows")]
            out.append(StrategySummary(**d, rows=rows))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
        raise ConfigError(f"{path}: not a `being-h0 bench strategies --json` file ({err})") from None
    if not out or not all(s.engine_path and s.command and s.engine_path != "expert" for s in out):
        raise ConfigError(f"{path}: no engine measurement in it (empty, the scripted expert's, or written by an "
                          f"older version without engine_path/command); measure with --json again")
    if len({s.engine_label for s in out}) != 1:
        raise ConfigError(f"{path}: measurements of several engines")
    return out


def write_advice(summaries: Sequence[Any], engine: Any, chosen: str | None = None) -> int:
    """`--write-manifest`: the advice for `summaries` into `engine`'s manifest; an exit status, errors printed."""
    from ..policy.engine_format import write_execution_advice

    try:
        advice = advice_from(summaries, summaries[0].command, chosen, engine.label)
        path = write_execution_advice(engine.path, advice)
    except (ValueError, ConfigError, OSError) as err:
        print(f"error: advice not written: {err}", file=sys.stderr)
        return 2
    print(f"{path}: execution.recommended = {advice.recommended} ({advice.evidence.summary})")
    return 0


def advice_from_json(path: Path, chosen: str | None = None) -> int:
    """`--advice-from`: write the advice from an earlier run's JSON, if its engine is still the one measured."""
    from .engines import resolve_engine

    try:
        summaries = load_summaries(path)
        engine = resolve_engine(summaries[0].engine_path)
        if engine.label != summaries[0].engine_label:
            raise ConfigError(f"{path}: measured {summaries[0].engine_label}, but {summaries[0].engine_path} is now "
                              f"{engine.label}; measure it again")
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return write_advice(summaries, engine, chosen)
