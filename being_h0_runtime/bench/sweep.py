"""A benchmark sweep: every planned (task, variation, trial) not yet in the results, each written as it finishes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError
from .engines import EngineRef
from .results import ResultsDB, TrialResult
from .tasks import TaskDef, parse_task_spec
from .trial import Ask, run_trial, strategy_of, strategy_overrides, trial_overrides


@dataclass(frozen=True)
class PlannedTrial:
    task: TaskDef
    variation: str
    trial_index: int
    seed: int


def plan(specs: list[str], trials: int | None, base_seed: int, tasks_dir: Path | None = None) -> list[PlannedTrial]:
    """Every (task, variation, trial) in order: tasks as given, variations as listed, trials by index."""
    out: list[PlannedTrial] = []
    seen: set[tuple[str, str]] = set()
    for spec in specs:
        for task, variation in parse_task_spec(spec, tasks_dir):
            if (task.id, variation) in seen:
                continue
            seen.add((task.id, variation))
            n = trials if trials is not None else task.trials
            out.extend(PlannedTrial(task, variation, i, base_seed + i) for i in range(n))
    return out


@dataclass
class SweepSummary:
    ran: int = 0
    skipped: int = 0
    successes: int = 0
    per_cell: dict[str, list[int]] = field(default_factory=dict)  # "task:variation" -> [successes, trials]


def run_sweep(plan_: list[PlannedTrial], engine: EngineRef, profile: str, results: Path, out_dir: Path, *,
              record: bool = False, frames: int = 3, time_limit_s: float | None = None, progress: bool = True,
              ask: Ask | None = None, extra_overrides: dict[str, dict[str, Any]] | None = None,
              after_trial: Callable[[TrialResult], None] | None = None,
              on_status: Callable[[PlannedTrial, Any], None] | None = None, strategy: str | None = None,
              setup: Callable[[PlannedTrial, Any, dict[str, Any]], None] | None = None,
              console: Any = None) -> SweepSummary:
    """Run the planned trials that are not in `results` yet, writing each as it finishes.

    With an operator `console` (console.EpisodeConsole): `x` re-runs the current trial, `a` aborts it
    (not written; the console waits for `s`), `q` stops after it.
    """
    from ..launch import load_profile

    prof = load_profile(profile)
    for p in plan_:
        if prof.rig == "virtual" and not p.task.virtual:
            raise ConfigError(f"{p.task.source}: task {p.task.id!r} is real-rig only (field 'scene.sim_task' is "
                              f"null); run it with --profile rig")
    summary = SweepSummary()
    out_dir.mkdir(parents=True, exist_ok=True)
    extra = {**strategy_overrides(strategy), **(extra_overrides or {})}

    def key(p: PlannedTrial) -> tuple[str, str, str, str, str, str, int]:
        over = trial_overrides(profile, p.task, p.variation, engine, 1.0, extra)
        return (engine.engine_id, engine.sha256, prof.name, p.task.id, p.variation, strategy_of(profile, over), p.seed)

    def run_one(p: PlannedTrial, position: int) -> TrialResult:
        def hook(ctx: Any, nodes: dict[str, Any]) -> None:
            if setup is not None:
                setup(p, ctx, nodes)
            if console is not None:
                console.attach(ctx, nodes, position, f"{p.task.id}:{p.variation} seed {p.seed}")

        return run_trial(profile, p.task, p.variation, p.trial_index, p.seed, engine, out_dir,
                         results.parent.resolve(), record=record, frames=frames, time_limit_s=time_limit_s,
                         ask=ask, extra_overrides=extra_overrides, strategy=strategy,
                         on_status=(lambda st: on_status(p, st)) if on_status else None,
                         setup=hook if setup is not None or console is not None else None)

    with ResultsDB(results) as db:
        todo = [p for p in plan_ if not db.has(key(p))]
        summary.skipped = len(plan_) - len(todo)
        bar = _progress(len(plan_), summary.skipped, progress)
        try:
            _run_todo(todo, run_one, db, summary, bar, console, after_trial)
        finally:
            bar.close()
    return summary


def _run_todo(todo: list[PlannedTrial], run_one: Callable[[PlannedTrial, int], TrialResult], db: ResultsDB,
              summary: SweepSummary, bar: Any, console: Any,
              after_trial: Callable[[TrialResult], None] | None) -> None:
    """Run and write the trials in order; the operator console may re-run, abort (not written) or quit."""
    i = 0
    while i < len(todo):
        p = todo[i]
        bar.set_description(f"{p.task.id}:{p.variation} seed {p.seed}")
        position = i + 1 + summary.skipped
        r = run_one(p, position)
        if console is not None and _operator_discards(console, r, position):
            if console.quit:
                break
            if not console.redo:
                i += 1  # aborted with `a`: not written, so a later run of the same command retries it
                console.wait_between()
            continue
        i += 1
        db.record(r)
        summary.ran += 1
        summary.successes += r.success
        cell = summary.per_cell.setdefault(f"{p.task.id}:{p.variation}", [0, 0])
        cell[0] += r.success
        cell[1] += 1
        bar.set_postfix_str(f"{'ok' if r.success else r.state}")
        bar.update(1)
        if after_trial:
            after_trial(r)
        if console is not None:
            if console.quit:
                break
            console.wait_between()


def _operator_discards(console: Any, r: TrialResult, position: int) -> bool:
    """The operator re-ran (x), aborted (a) or quit (q) this trial: it is not a result and is not written."""
    if console.redo:
        console.line.message(f"trial {position} discarded; running it again")
        return True
    if r.state == "aborted" and console.aborted:
        console.line.message(f"trial {position} aborted by the operator: not written (the same command retries it)")
        return True
    return False


class _NoBar:
    def set_description(self, s: str) -> None: ...
    def set_postfix_str(self, s: str) -> None: ...
    def update(self, n: int) -> None: ...
    def close(self) -> None: ...


def _progress(total: int, done: int, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="trial", dynamic_ncols=True)
