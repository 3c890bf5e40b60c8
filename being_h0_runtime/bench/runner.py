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
import datetime as _dt
import hashlib
import json
import os
import select
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np

from ..config import ConfigError
from .tasks import DEFAULT_TASKS_DIR, TaskDef, parse_task_spec

EXPERT_ID = "scripted-expert"
TERMINAL = ("succeeded", "failed", "timeout", "aborted")

SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    engine_id TEXT NOT NULL,
    engine_sha256 TEXT NOT NULL,
    engine_path TEXT NOT NULL,
    profile TEXT NOT NULL,
    task TEXT NOT NULL,
    variation TEXT NOT NULL,
    trial_index INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    instruction TEXT NOT NULL,
    state TEXT NOT NULL,
    success INTEGER NOT NULL,
    judge TEXT NOT NULL,
    message TEXT NOT NULL,
    sim_seconds REAL NOT NULL,
    duration_s REAL NOT NULL,
    interventions INTEGER NOT NULL,
    safety_events INTEGER NOT NULL,
    safety_json TEXT NOT NULL,
    recording TEXT NOT NULL,
    frames TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    engine_name TEXT NOT NULL DEFAULT '',
    strategy TEXT NOT NULL DEFAULT '',
    failure_phase TEXT NOT NULL DEFAULT '',
    failure_reason TEXT NOT NULL DEFAULT '',
    command TEXT NOT NULL DEFAULT '',
    events_json TEXT NOT NULL DEFAULT '[]',
    UNIQUE (engine_id, engine_sha256, profile, task, variation, strategy, seed)
);
"""


# ------------------------------------------------------------------ results store


@dataclass
class TrialResult:
    engine_id: str
    engine_sha256: str
    engine_path: str
    profile: str
    task: str
    variation: str
    trial_index: int
    seed: int
    instruction: str
    state: str
    success: bool
    judge: str  # "simulator" | "operator"
    message: str
    sim_seconds: float
    duration_s: float
    interventions: int
    safety_events: int
    safety: dict[str, Any] = field(default_factory=dict)
    recording: str = ""
    frames: str = ""
    started_at: str = ""
    finished_at: str = ""
    #: the engine's name for people (its directory's name) and the chunk execution strategy it ran with
    engine_name: str = ""
    strategy: str = ""
    #: for a trial that did not succeed: where it was (approach, grasp, carry, ...) and why, in words
    failure_phase: str = ""
    failure_reason: str = ""
    #: the command that runs this one trial again
    command: str = ""
    #: task milestones seen during the trial: (sim seconds since start, what)
    events: list[tuple[float, str]] = field(default_factory=list)

    def key(self) -> tuple[str, str, str, str, str, str, int]:
        return (self.engine_id, self.engine_sha256, self.profile, self.task, self.variation, self.strategy, self.seed)


class ResultsDB:
    """SQLite results: one row per finished trial, written in one transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")  # a finished trial survives a power cut
            self._migrate_v1()
            self.conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as err:
            raise ConfigError(f"{self.path}: not a usable results database ({err})") from None

    def _migrate_v1(self) -> None:
        """Results written before strategies and failure reasons: rebuild the table (the key gains the strategy)."""
        cols = [r[1] for r in self.conn.execute("PRAGMA table_info(trials)").fetchall()]
        if not cols or "strategy" in cols:
            return
        keep = ", ".join(cols)
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute("ALTER TABLE trials RENAME TO trials_v1")
            for stmt in SCHEMA.replace("CREATE TABLE IF NOT EXISTS", "CREATE TABLE").split(";"):
                if stmt.strip():
                    self.conn.execute(stmt)
            self.conn.execute(f"INSERT INTO trials ({keep}) SELECT {keep} FROM trials_v1")
            self.conn.execute("DROP TABLE trials_v1")
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, key: tuple[str, str, str, str, str, str, int]) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM trials WHERE engine_id=? AND engine_sha256=? AND profile=? AND task=? AND variation=? "
            "AND strategy=? AND seed=?", key).fetchone()
        return row is not None

    def record(self, r: TrialResult) -> bool:
        """Insert one trial atomically; False (nothing written) if that key is already there."""
        d = asdict(r)
        d["success"] = int(r.success)
        d["safety_json"] = json.dumps(d.pop("safety"), sort_keys=True)
        d["events_json"] = json.dumps(d.pop("events"))
        cols = ", ".join(d)
        marks = ", ".join("?" for _ in d)
        with self.conn:  # BEGIN ... COMMIT (rollback on error)
            self.conn.execute("BEGIN IMMEDIATE")
            cur = self.conn.execute(f"INSERT OR IGNORE INTO trials ({cols}) VALUES ({marks})", list(d.values()))
        return cur.rowcount == 1

    def rows(self) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM trials ORDER BY engine_id, strategy, task, variation, seed")
        out = []
        for row in cur.fetchall():
            d = dict(row)
            d["success"] = bool(d["success"])
            d["safety"] = json.loads(d.pop("safety_json") or "{}")
            d["events"] = [tuple(e) for e in json.loads(d.pop("events_json") or "[]")]
            out.append(d)
        return out


def load_results(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p}: results file not found (run `being-h0 bench run --results {p}` first)")
    with ResultsDB(p) as db:
        return db.rows()


# ------------------------------------------------------------------ engines


@dataclass(frozen=True)
class EngineRef:
    """What a trial ran: id + checksum identify it in the results; policy is the inference override."""

    engine_id: str
    sha256: str
    path: str
    policy: dict[str, Any]
    #: what people call it: the engine directory's name (``being-h0-sim-small``)
    name: str = ""

    @property
    def label(self) -> str:
        return engine_label(self.name or self.engine_id, self.sha256)


def resolve_engine(spec: str, backend: str = "auto") -> EngineRef:
    """'expert' (the scripted virtual-rig expert) or an engine directory with manifest.json."""
    if spec == "expert":
        return EngineRef(EXPERT_ID, EXPERT_ID, "expert", {"kind": "expert"}, EXPERT_ID)
    from ..policy.engine import MANIFEST_FILE, read_manifest

    d = Path(spec).resolve()
    manifest = read_manifest(d)  # ConfigError names the file/field
    sha = hashlib.sha256((d / MANIFEST_FILE).read_bytes()).hexdigest()
    return EngineRef(manifest.engine_id, sha, str(d), {"kind": "engine", "engine_dir": str(d), "backend": backend},
                     d.name)


def engine_label(name: str, sha256: str) -> str:
    """`name@<8 hex of the manifest's sha256>`: two exports with one name are never merged (the expert: its id)."""
    return name if sha256 == EXPERT_ID else f"{name}@{sha256[:8]}"


# ------------------------------------------------------------------ one trial


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
    return over


class TrialProbe:
    """Watches one trial from inside the graph (the `setup` hook of run_episode_inproc).

    Counts operator interventions (/teleop/intervention rising edges), snapshots
    the actuators' safety counters at the moment the task ends (the end of an
    episode itself causes a hold, which is not a safety event), follows the
    task's milestones (reached, grasped, lifted, dropped, ... see outcome.py),
    renders a few frames from the virtual rig (also at each milestone), and
    optionally adds a recorder node.
    """

    def __init__(self, frames: int = 3, frame_period_s: float = 4.0, record_dir: Path | None = None,
                 operator_keys: bool = False) -> None:
        self.n_frames = frames
        self.frame_period_s = frame_period_s
        self.record_dir = record_dir
        self.operator_keys = operator_keys
        self.interventions = 0
        self._intervening = False
        #: (seconds since running, milestone or "", half-resolution RGB)
        self.frames: list[tuple[float, str, np.ndarray]] = []
        self.tracker: Any = None
        self.progress_period_s = 0.25
        self.safety: dict[str, Any] = {}
        self.safety_events = 0
        self.terminal_at: float | None = None
        self.running_at: float | None = None
        self.marked_by_operator = False
        self.nodes: dict[str, Any] = {}
        self.recorder: Any = None

    # -- hooks -------------------------------------------------------------------
    def setup(self, ctx: Any, nodes: dict[str, Any]) -> None:
        from ..msgs import Bool, TaskCommand, TaskStatus
        from ..transport.api import COMMAND_QOS, LATCHED_QOS

        self.ctx, self.nodes = ctx, nodes
        self.handle = ctx.create_node("bench_probe")
        self.handle.create_subscription(Bool, "/teleop/intervention", self._on_intervention, LATCHED_QOS)
        self.handle.create_subscription(TaskStatus, "/task/status", self._on_status, LATCHED_QOS)
        if self.n_frames > 0 and "virtual_rig" in nodes:
            self.handle.create_timer(self.frame_period_s, self._grab_periodic)
        if "virtual_rig" in nodes:
            from .outcome import ProgressTracker

            self.tracker = ProgressTracker(nodes["virtual_rig"].rig)
            self.handle.create_timer(self.progress_period_s, self._track)
        if self.record_dir is not None:
            from ..nodes.base import build_node

            self.recorder = build_node("recorder", ctx.create_node("bench_recorder"),
                                       {"output_dir": str(self.record_dir)}, "bench run --record").bring_up()
            nodes["bench_recorder"] = self.recorder  # closed with the graph
        if self.operator_keys:
            self._cmd_pub = self.handle.create_publisher(TaskCommand, "/task/command", COMMAND_QOS)
            self.handle.create_timer(0.1, self._poll_keys)

    def _on_intervention(self, msg: Any) -> None:
        if msg.data and not self._intervening:
            self.interventions += 1
        self._intervening = bool(msg.data)

    def _on_status(self, st: Any) -> None:
        if st.state == "running" and self.running_at is None:
            self.running_at = self.ctx.now()
            self._grab("start")
        if st.state in TERMINAL and self.terminal_at is None and st.episode > 0:
            self.terminal_at = self.ctx.now()
            self._track()
            self._snapshot_safety()
            self._grab(st.state)

    def _track(self) -> None:
        if self.tracker is None or self.running_at is None or self.terminal_at not in (None, self.ctx.now()):
            return
        milestone = self.tracker.sample(self.ctx.now() - self.running_at)
        if milestone:
            self._grab(milestone)

    def _grab_periodic(self) -> None:
        if self.running_at is not None and self.terminal_at is None:
            self._grab()

    def _grab(self, label: str = "") -> None:
        rig_node = self.nodes.get("virtual_rig")
        if self.n_frames <= 0 or rig_node is None:
            return
        rgb, _ = rig_node.rig.render()
        t = self.ctx.now() - (self.running_at if self.running_at is not None else self.ctx.now())
        self.frames.append((t, label, np.ascontiguousarray(rgb[::2, ::2])))  # half resolution: a strip, not a video

    def _snapshot_safety(self) -> None:
        events = 0
        for group in ("arm", "hand"):
            node = self.nodes.get(group)
            if node is None or not hasattr(node, "gate"):
                continue
            faults = node.gate.faults
            holds = [(t, why) for t, why in node.hold_events
                     if self.running_at is not None and self.running_at < t <= (self.terminal_at or t)
                     and why.startswith(("e-stop", "fault", "watchdog", "supervisor"))]
            events += len(faults) + len(holds)
            self.safety[group] = {
                "holds_by_reason": dict(node.gate.holds_by_reason),
                "supervisor": {k: v for k, v in node.supervisor.counters.items() if k != "cycles"},
                "faults": faults,
                "safety_holds": [why for _, why in holds],
            }
        self.safety_events = events

    def _poll_keys(self) -> None:
        """Real rig: y<Enter> marks success, n<Enter> failure, a<Enter> (or q) stops: the console's keys, typed as
        lines because the reset and verdict prompts around a trial are line prompts (stdin, non-blocking)."""
        from ..console import ACTION_OF, ACTION_OF_WORD
        from ..msgs import TaskCommand

        try:
            ready, _, _ = select.select([sys.stdin], [], [], 0)
        except (OSError, ValueError):
            return
        if not ready:
            return
        word = sys.stdin.readline().strip().lower()
        action = ACTION_OF_WORD.get(word) or (ACTION_OF.get(word) if len(word) == 1 else None)
        cmd = {"success": TaskCommand.MARK_SUCCESS, "failure": TaskCommand.MARK_FAILURE, "abort": TaskCommand.STOP,
               "quit": TaskCommand.STOP}.get(action or "")
        if cmd:
            self.marked_by_operator = cmd != TaskCommand.STOP
            self._cmd_pub.publish(TaskCommand(command=cmd, operator="bench"))

    # -- after the episode ----------------------------------------------------------
    def frame_strip(self, max_frames: int | None = None, milestones: bool = False) -> np.ndarray | None:
        """Up to n frames side by side, each captioned with its time: first and last always, then (with
        `milestones`, for a failed trial) the milestone frames (grasp, drop, ...), then evenly spaced ones."""
        if not self.frames:
            return None
        n = min(max_frames or self.n_frames, len(self.frames))
        last = len(self.frames) - 1
        pick = {0, last}
        if milestones:
            marked = [i for i, (_, label, _) in enumerate(self.frames) if label and 0 < i < last]
            pick.update(marked[-max(0, n - 2):] if n > 2 else [])
        for i in np.round(np.linspace(0, last, n)).astype(int):
            if len(pick) >= n:
                break
            if all(abs(self.frames[i][0] - self.frames[j][0]) > 0.5 for j in pick):  # no near-duplicates
                pick.add(int(i))
        return np.concatenate([_caption(*self.frames[i]) for i in sorted(pick)], axis=1)


def _caption(t: float, label: str, img: np.ndarray) -> np.ndarray:
    """The frame with its time and milestone written on a dark band at the bottom."""
    from PIL import Image, ImageDraw

    band = 14
    out = Image.new("RGB", (img.shape[1], img.shape[0] + band), (24, 24, 24))
    out.paste(Image.fromarray(img), (0, 0))
    ImageDraw.Draw(out).text((3, img.shape[0] + 1), f"{t:5.1f} s {label}"[: img.shape[1] // 6], fill=(235, 235, 235))
    return np.asarray(out)


def save_png(img: np.ndarray, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    Image.fromarray(img).save(tmp)
    os.replace(tmp, path)


Ask = Callable[[str], str]


def _trial_name(engine: EngineRef, task: str, variation: str, seed: int, strategy: str = "") -> str:
    name = engine.name or engine.engine_id
    label = name if engine.sha256 == EXPERT_ID else f"{name}-{engine.sha256[:8]}"
    strat = f"_{strategy}" if strategy else ""
    return f"{label}{strat}_{task}_{variation}_seed{seed:04d}".replace("/", "_").replace(os.sep, "_")


def strategy_overrides(strategy: str | None) -> dict[str, dict[str, Any]]:
    """Arm and hand chunk execution strategy (sync, async, ensemble, crossfade); {} keeps the profile's."""
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
    from .outcome import explain

    profile = load_profile(profile_name)
    real = profile.rig == "real"
    limit = time_limit_s or task.time_limit_s
    instruction = task.instruction_for(trial_index)
    name = _trial_name(engine, task.id, variation, seed, strategy or "")
    rec_dir = out_dir / "recordings" / name if record else None
    if rec_dir is not None and rec_dir.exists():
        shutil.rmtree(rec_dir)  # left by an interrupted attempt at this trial
    if real:
        if ask is None:
            raise ValueError("the real rig needs an operator prompt (ask)")
        ask(f"\n[{task.id}:{variation} trial {trial_index + 1}, seed {seed}] RESET: "
            f"{task.reset.real.format(variation=variation)}\n> ")
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
    state, success, judge = out.state, out.success, "simulator"
    if real:
        judge = "operator"
        if not (probe.marked_by_operator and out.state in ("succeeded", "failed")):
            assert ask is not None
            answer = ""
            while answer not in ("y", "n"):
                answer = ask(f"{task.success.real} [y/n] ").strip().lower()[:1]
            success = answer == "y"
    phase, reason = ("", "") if success else explain(state, out.message, probe.tracker, probe.safety_events,
                                                     probe.safety)
    if real and not success and not reason:
        phase, reason = state, f"judged a failure by the operator ({out.message})"
    frames_rel = ""
    # a failed trial gets a longer strip with its milestones (grasp, drop, ...): what went wrong, where
    strip = probe.frame_strip(None if success else max(frames, 6), milestones=not success)
    if strip is not None:
        fpath = out_dir / "frames" / f"{name}.png"
        save_png(strip, fpath)
        frames_rel = os.path.relpath(fpath, results_dir)
    recording = os.path.relpath(rec_dir, results_dir) if rec_dir is not None and rec_dir.exists() else ""
    return TrialResult(
        engine_id=engine.engine_id, engine_sha256=engine.sha256, engine_path=engine.path, profile=profile.name,
        task=task.id, variation=variation, trial_index=trial_index, seed=seed, instruction=instruction, state=state,
        success=bool(success), judge=judge, message=out.message, sim_seconds=float(out.sim_seconds),
        duration_s=duration, interventions=probe.interventions, safety_events=probe.safety_events,
        safety=probe.safety, recording=recording, frames=frames_rel, started_at=started, finished_at=_utc_now(),
        engine_name=engine.name or engine.engine_id, strategy=strategy_name, failure_phase=phase,
        failure_reason=reason,
        command=repro_command(profile_name, task, variation, engine, trial_index, seed, time_limit_s, strategy),
        events=list(probe.tracker.events) if probe.tracker is not None else [])


# ------------------------------------------------------------------ the sweep


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
    with ResultsDB(results) as db:
        def key(p: PlannedTrial) -> tuple[str, str, str, str, str, str, int]:
            over = trial_overrides(profile, p.task, p.variation, engine, 1.0,
                                   {**strategy_overrides(strategy), **(extra_overrides or {})})
            return (engine.engine_id, engine.sha256, prof.name, p.task.id, p.variation, strategy_of(profile, over),
                    p.seed)

        todo = [p for p in plan_ if not db.has(key(p))]
        summary.skipped = len(plan_) - len(todo)
        bar = _progress(len(plan_), summary.skipped, progress)
        try:
            i = 0
            while i < len(todo):
                p = todo[i]
                bar.set_description(f"{p.task.id}:{p.variation} seed {p.seed}")
                position = i + 1 + summary.skipped

                def hook(ctx: Any, nodes: dict[str, Any], p: PlannedTrial = p, position: int = position) -> None:
                    if setup is not None:
                        setup(p, ctx, nodes)
                    if console is not None:
                        console.attach(ctx, nodes, position, f"{p.task.id}:{p.variation} seed {p.seed}")

                r = run_trial(profile, p.task, p.variation, p.trial_index, p.seed, engine, out_dir,
                              results.parent.resolve(), record=record, frames=frames, time_limit_s=time_limit_s,
                              ask=ask, extra_overrides=extra_overrides, strategy=strategy,
                              on_status=(lambda st, p=p: on_status(p, st)) if on_status else None,
                              setup=hook if setup is not None or console is not None else None)
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
        finally:
            bar.close()
    return summary


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


def _stdin_ask(prompt: str) -> str:
    return input(prompt)


def row_engine_label(r: dict[str, Any]) -> str:
    """A result row's engine as people name it: directory name + 8 hex of the manifest checksum."""
    return engine_label(r.get("engine_name") or r["engine_id"], r["engine_sha256"])


def iter_cells(rows: list[dict[str, Any]]) -> Iterator[tuple[tuple[str, str, str, str, str], list[dict[str, Any]]]]:
    """Group result rows by (engine label, strategy, profile, task, variation)."""
    groups: dict[tuple[str, str, str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((row_engine_label(r), r.get("strategy") or "", r["profile"], r["task"], r["variation"]),
                          []).append(r)
    yield from groups.items()


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
    from .strategies import STRATEGIES

    ap.add_argument("--strategy", default=None, choices=STRATEGIES,
                    help="chunk execution strategy for arm and hand (default: the profile's; the expert's is async); "
                         "results of different strategies are kept apart and compared in the report")
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
    args = ap.parse_args(argv)
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
