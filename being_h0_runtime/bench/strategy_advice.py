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
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..policy.engine_format import ExecutionAdvice


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
