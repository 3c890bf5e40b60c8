"""The numbers of the success-rate report: one row per cell (engine, strategy, profile, task, variation) and
the pairwise comparisons between cells that differ in one thing only."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from .results import iter_cells
from .stats import compare_rates, wilson_interval


@dataclass
class CellStats:
    engine: str
    strategy: str
    profile: str
    task: str
    variation: str
    successes: int
    trials: int
    rate: float
    ci_low: float
    ci_high: float
    mean_sim_seconds: float
    safety_events: int
    interventions: int
    #: failed trials by phase ("carry": 2, "grasp": 1)
    failures_by_phase: dict[str, int]

    @property
    def series(self) -> str:
        return f"{self.engine} · {self.strategy}" if self.strategy else self.engine


@dataclass
class PairTest:
    """Two cells that differ in one thing only (the engine, or the strategy): is the rate different?"""

    kind: str  # "engine" | "strategy"
    profile: str
    task: str
    variation: str
    fixed: str  # the strategy (engine comparisons) or the engine (strategy comparisons)
    a: str
    b: str
    k_a: int
    n_a: int
    k_b: int
    n_b: int
    rate_a: float
    rate_b: float
    difference: float
    p_value: float
    test: str


def cell_stats(rows: list[dict[str, Any]]) -> list[CellStats]:
    out = []
    for (engine, strategy, profile, task, variation), rs in iter_cells(rows):
        k, n = sum(r["success"] for r in rs), len(rs)
        lo, hi = wilson_interval(k, n)
        phases = Counter(r.get("failure_phase") or r["state"] for r in rs if not r["success"])
        out.append(CellStats(engine, strategy, profile, task, variation, k, n, k / n, lo, hi,
                             sum(r["sim_seconds"] for r in rs) / n, sum(r["safety_events"] for r in rs),
                             sum(r["interventions"] for r in rs), dict(phases)))
    # per-task aggregate over variations ("all"), when a task has more than one variation
    agg: dict[tuple[str, str, str, str], list[CellStats]] = {}
    for c in out:
        agg.setdefault((c.engine, c.strategy, c.profile, c.task), []).append(c)
    for (engine, strategy, profile, task), cs in agg.items():
        if len(cs) > 1:
            k, n = sum(c.successes for c in cs), sum(c.trials for c in cs)
            lo, hi = wilson_interval(k, n)
            phases: Counter[str] = Counter()
            for c in cs:
                phases.update(c.failures_by_phase)
            out.append(CellStats(engine, strategy, profile, task, "all", k, n, k / n, lo, hi,
                                 sum(c.mean_sim_seconds * c.trials for c in cs) / n,
                                 sum(c.safety_events for c in cs), sum(c.interventions for c in cs), dict(phases)))
    out.sort(key=lambda c: (c.profile, c.task, c.variation == "all", c.variation, c.engine, c.strategy))
    return out


def pair_tests(cells: list[CellStats], kind: str = "engine") -> list[PairTest]:
    """Fisher exact tests (two-sided) between cells that differ only in the engine (`kind="engine"`, same
    strategy) or only in the strategy (`kind="strategy"`, same engine), per profile/task/variation."""
    by: dict[tuple[str, str, str, str], list[CellStats]] = {}
    for c in cells:
        fixed = c.strategy if kind == "engine" else c.engine
        by.setdefault((c.profile, c.task, c.variation, fixed), []).append(c)
    out = []
    for (profile, task, variation, fixed), cs in by.items():
        name = (lambda c: c.engine) if kind == "engine" else (lambda c: c.strategy)
        for a, b in combinations(sorted(cs, key=name), 2):
            cmp = compare_rates(a.successes, a.trials, b.successes, b.trials)
            out.append(PairTest(kind, profile, task, variation, fixed, name(a), name(b), a.successes, a.trials,
                                b.successes, b.trials, a.rate, b.rate, cmp.difference, cmp.p_value, cmp.test))
    return out
