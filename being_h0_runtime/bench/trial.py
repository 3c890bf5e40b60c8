"""One benchmark trial: its node-parameter overrides, its name, its reproduce command and the run itself."""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import ConfigError
from .engines import EXPERT_ID, EngineRef
from .probe import TrialProbe, save_png
from .results import TrialResult
from .tasks import DEFAULT_TASKS_DIR, TaskDef

Ask = Callable[[str], str]


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def trial_overrides(profile_name: str, task: TaskDef, variation: str, engine: EngineRef, time_limit_s: float,
                    extra: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Node-parameter overrides for one trial: scene, policy, time limit, fast virtual-rig settings."""
    from ..launch import load_profile

    profile = load_profile(profile_name)
    over: dict[str, dict[str, Any]] = {}
    if profile.rig == "virtual":
        if not task.virtual:
            raise ConfigError(f"{task.source}: task {task.id!r} is real-rig only (field 'scene.sim_task' is null); "
                              f"run it with --profile rig")
        if "virtual_rig" in profile.nodes:
            rig = {"task": task.scene.sim_task, "variation": variation, "hand_baudrate": None}
            if engine.policy["kind"] == "expert":
                rig["camera_rate_hz"] = 0  # the expert reads privileged state; frames are rendered on demand
            over["virtual_rig"] = rig
    if "inference" in profile.nodes:
        policy = dict(profile.nodes["inference"].params.get("policy", {}))
        if engine.policy["kind"] == "engine":
            for k in ("chunk_len", "control_rate_hz"):
                policy.pop(k, None)  # the manifest decides
        policy.update(engine.policy)
        over["inference"] = {"policy": policy}
        if engine.policy["kind"] == "expert":
            from ..policy.expert import with_expert

            over = with_expert(over)
    over["task"] = {"time_limit_s": time_limit_s}
    for node, params in (extra or {}).items():
        over.setdefault(node, {}).update(params)
    from ..launch import with_engine_execution

    # the engine manifest's executor for actuators the profile leaves unpinned (build_graph would add it too):
    # explicit here so that the trial records the strategy it really ran (strategy_of); no ${run_dir} is needed
    # to find the engine, so the profile's folder stands in for it
    return with_engine_execution(profile, Path(profile.base_dir), over)


def _trial_name(engine: EngineRef, task: str, variation: str, seed: int, strategy: str = "") -> str:
    name = engine.name or engine.engine_id
    label = name if engine.sha256 == EXPERT_ID else f"{name}-{engine.sha256[:8]}"
    strat = f"_{strategy}" if strategy else ""
    return f"{label}{strat}_{task}_{variation}_seed{seed:04d}".replace("/", "_").replace(os.sep, "_")


def strategy_overrides(strategy: str | None) -> dict[str, dict[str, Any]]:
    """Arm and hand chunk execution strategy (sync, async, ensemble, crossfade, rtc); {} keeps the profile's."""
    if not strategy:
        return {}
    executor = {"name": strategy, "params": {}}
    return {"arm": {"executor": executor}, "hand": {"executor": executor}}


def strategy_of(profile_name: str, overrides: dict[str, dict[str, Any]]) -> str:
    """The execution strategy a trial runs with: the overrides' arm executor, else the profile's."""
    from ..launch import load_profile

    ex = overrides.get("arm", {}).get("executor")
    if ex is None:
        arm = load_profile(profile_name).nodes.get("arm")
        ex = arm.params.get("executor") if arm is not None else None
    return str((ex or {}).get("name", "")) if isinstance(ex, dict) else ""


def repro_command(profile_name: str, task: TaskDef, variation: str, engine: EngineRef, trial_index: int, seed: int,
                  time_limit_s: float | None, strategy: str | None) -> str:
    """The `being-h0 bench run` line that runs exactly this trial again (same instruction and seed)."""
    import shlex

    def rel(path: str) -> str:
        try:
            r = os.path.relpath(path)
        except ValueError:
            return path
        return path if r.startswith("..") else r

    spec = "expert" if engine.sha256 == EXPERT_ID else rel(engine.path)
    task_arg = task.id if Path(task.source).parent == DEFAULT_TASKS_DIR else rel(task.source)
    parts = ["being-h0", "bench", "run", "--tasks", f"{task_arg}:{variation}", "--engine", spec]
    if engine.policy.get("backend", "auto") != "auto":
        parts += ["--backend", engine.policy["backend"]]
    if profile_name != "sim":
        parts += ["--profile", profile_name]
    if strategy:
        parts += ["--strategy", strategy]
    if time_limit_s:
        parts += ["--time-limit", f"{time_limit_s:g}"]
    parts += ["--base-seed", str(seed - trial_index), "--trial", str(trial_index),
              "--results", "repro/results.sqlite", "--out", "repro"]
    return shlex.join(parts)


def _prompt_reset(ask: Ask | None, task: TaskDef, variation: str, trial_index: int, seed: int) -> None:
    """The real rig: the operator resets the scene by hand before each trial."""
    if ask is None:
        raise ValueError("the real rig needs an operator prompt (ask)")
    ask(f"\n[{task.id}:{variation} trial {trial_index + 1}, seed {seed}] RESET: "
        f"{task.reset.real.format(variation=variation)}\n> ")


def run_trial(profile_name: str, task: TaskDef, variation: str, trial_index: int, seed: int, engine: EngineRef,
              out_dir: Path, results_dir: Path, *, record: bool = False, frames: int = 3,
              time_limit_s: float | None = None, extra_overrides: dict[str, dict[str, Any]] | None = None,
              ask: Ask | None = None, on_status: Callable[[Any], None] | None = None,
              strategy: str | None = None, setup: Callable[[Any, dict[str, Any]], None] | None = None) -> TrialResult:
    """Run one trial and return its result (nothing is written to the results DB here).

    `strategy` overrides the arm and hand chunk execution strategy (default: the profile's); `setup`
    is called with the in-process graph as it is built (the console's key and status hook).
    """
    from ..launch import load_profile
    from ..operator import run_episode_inproc

    profile = load_profile(profile_name)
    real = profile.rig == "real"
    limit = time_limit_s or task.time_limit_s
    instruction = task.instruction_for(trial_index)
    name = _trial_name(engine, task.id, variation, seed, strategy or "")
    rec_dir = _fresh_recording_dir(out_dir / "recordings" / name) if record else None
    if real:
        _prompt_reset(ask, task, variation, trial_index, seed)
    over = trial_overrides(profile_name, task, variation, engine, limit,
                           {**strategy_overrides(strategy), **(extra_overrides or {})})
    strategy_name = strategy_of(profile_name, over)
    probe = TrialProbe(frames=frames if not real else 0, record_dir=rec_dir,
                       operator_keys=real and ask is not None and sys.stdin.isatty() and setup is None)

    def setup_all(ctx: Any, nodes: dict[str, Any]) -> None:
        probe.setup(ctx, nodes)
        if setup is not None:
            setup(ctx, nodes)

    started = _utc_now()
    wall0 = time.perf_counter()
    if real:
        print("running: type y<Enter> = success, n<Enter> = failure, a<Enter> = abort", flush=True)
    out = run_episode_inproc(profile_name, seed=seed, episode=trial_index + 1, overrides=over, time_limit_s=limit,
                             on_status=on_status, setup=setup_all, task_id=task.id, instruction=instruction)
    duration = time.perf_counter() - wall0
    if probe.terminal_at is None:
        probe._snapshot_safety()
    success, judge = out.success, "simulator"
    if real:
        assert ask is not None
        success, judge = _operator_verdict(task, out, probe, ask), "operator"
    phase, reason = _failure(out, probe, success, real)
    frames_rel = _save_strip(probe, frames, success, out_dir / "frames" / f"{name}.png", results_dir)
    recording = os.path.relpath(rec_dir, results_dir) if rec_dir is not None and rec_dir.exists() else ""
    return TrialResult(
        engine_id=engine.engine_id, engine_sha256=engine.sha256, engine_path=engine.path, profile=profile.name,
        task=task.id, variation=variation, trial_index=trial_index, seed=seed, instruction=instruction,
        state=out.state, success=bool(success), judge=judge, message=out.message,
        sim_seconds=float(out.sim_seconds), duration_s=duration, interventions=probe.interventions,
        safety_events=probe.safety_events, safety=probe.safety, recording=recording, frames=frames_rel,
        started_at=started, finished_at=_utc_now(), engine_name=engine.name or engine.engine_id,
        strategy=strategy_name, failure_phase=phase, failure_reason=reason,
        command=repro_command(profile_name, task, variation, engine, trial_index, seed, time_limit_s, strategy),
        events=list(probe.tracker.events) if probe.tracker is not None else [])


def _fresh_recording_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)  # left by an interrupted attempt at this trial
    return path


def _operator_verdict(task: TaskDef, out: Any, probe: TrialProbe, ask: Ask) -> bool:
    """Real rig: the operator's y/n, unless they already marked the outcome with a key during the trial."""
    if probe.marked_by_operator and out.state in ("succeeded", "failed"):
        return bool(out.success)
    answer = ""
    while answer not in ("y", "n"):
        answer = ask(f"{task.success.real} [y/n] ").strip().lower()[:1]
    return answer == "y"


def _failure(out: Any, probe: TrialProbe, success: bool, real: bool) -> tuple[str, str]:
    """(phase, reason) of a trial that did not succeed; ("", "") for one that did."""
    from .outcome import explain

    if success:
        return "", ""
    phase, reason = explain(out.state, out.message, probe.tracker, probe.safety_events, probe.safety)
    if real and not reason:
        phase, reason = out.state, f"judged a failure by the operator ({out.message})"
    return phase, reason


def _save_strip(probe: TrialProbe, frames: int, success: bool, path: Path, results_dir: Path) -> str:
    """The trial's frame strip as a PNG; its path relative to the results, or "" without frames.

    A failed trial gets a longer strip with its milestones (grasp, drop, ...): what went wrong, where.
    """
    strip = probe.frame_strip(None if success else max(frames, 6), milestones=not success)
    if strip is None:
        return ""
    save_png(strip, path)
    return os.path.relpath(path, results_dir)
