"""Benchmark task definitions: one validated YAML file per task under ``tasks/``.

A task definition is the single source of truth for what a success-rate trial
is (ARCHITECTURE rule 5): the instructions given to the policy, the scene the
virtual rig builds (or, on the real rig, the scene the operator sets up), how
the scene is reset between trials, how success is judged, the time limit, the
variations and the default number of trials (the Being-H0 paper uses 20).

A task whose ``scene.sim_task`` is null exists for the real rig only: the
virtual rig has no model of it, so ``bench run --profile sim`` refuses it with
a clear error instead of silently running something else.

Loading goes through ``config.load_yaml_model``: a bad file gives one
``ConfigError`` naming the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..config import ConfigError, StrictModel, load_yaml_model

#: repository root (the package lives in <root>/being_h0_runtime/bench)
REPO_ROOT = Path(__file__).resolve().parents[2]
#: where `bench run --tasks NAME` looks for NAME.yaml unless --tasks-dir says otherwise
DEFAULT_TASKS_DIR = REPO_ROOT / "tasks"


def sim_tasks() -> tuple[str, ...]:
    """Task names the virtual rig can build (sim/world.py owns the list)."""
    from ..sim.world import TASKS

    return TASKS


def sim_variations() -> tuple[str, ...]:
    from ..sim.world import VARIATIONS

    return VARIATIONS


class SceneDef(StrictModel):
    #: the VirtualRig task name that builds this scene; null = real rig only
    sim_task: str | None = None
    #: one line describing the physical set-up (shown to the operator on the real rig)
    description: str = ""


class ResetDef(StrictModel):
    #: virtual rig: the scene is rebuilt from the trial's seed, nothing to do
    virtual: Literal["automatic"] = "automatic"
    #: real rig: what the operator is asked to do before each trial ({variation} is filled in)
    real: str = Field(min_length=1)


class SuccessDef(StrictModel):
    #: virtual rig: the simulator's judge (/sim/state success, held for the task node's success_hold_s)
    virtual: Literal["simulator"] = "simulator"
    #: real rig: the yes/no question the operator answers after each trial
    real: str = Field(min_length=1)


class TaskDef(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str = ""
    #: instructions given to the policy; trial i uses instructions[i % len]
    instructions: list[str] = Field(min_length=1)
    #: other wordings of the task: multi-task training samples them, `bench language` checks them; success
    #: trials keep to `instructions` (an engine trained on one wording is benchmarked on it)
    paraphrases: list[str] = Field(default_factory=list)
    scene: SceneDef
    reset: ResetDef
    success: SuccessDef
    time_limit_s: float = Field(60.0, gt=0, le=3600)
    #: the scene variations trials are run under (virtual rig: seen | unseen | clutter)
    variations: list[str] = Field(min_length=1)
    #: default trials per variation (the paper: 20)
    trials: int = Field(20, ge=1, le=10000)

    source: str = Field("", exclude=True)

    @field_validator("instructions")
    @classmethod
    def _non_empty_instructions(cls, v: list[str]) -> list[str]:
        for i, s in enumerate(v):
            if not s.strip():
                raise ValueError(f"instruction {i} is empty")
        return v

    @field_validator("variations")
    @classmethod
    def _unique_variations(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"variations must be unique, got {v}")
        return v

    @field_validator("scene")
    @classmethod
    def _known_sim_task(cls, v: SceneDef) -> SceneDef:
        if v.sim_task is not None and v.sim_task not in sim_tasks():
            raise ValueError(f"sim_task {v.sim_task!r} is not a virtual-rig task (known: {', '.join(sim_tasks())}); "
                             "use null for a real-rig-only task")
        return v

    @model_validator(mode="after")
    def _sim_variations(self) -> TaskDef:
        if self.scene.sim_task is not None:
            bad = [x for x in self.variations if x not in sim_variations()]
            if bad:
                raise ValueError(f"variations {bad} are not virtual-rig variations "
                                 f"(allowed: {', '.join(sim_variations())})")
        return self

    @property
    def virtual(self) -> bool:
        """True when the virtual rig can run this task."""
        return self.scene.sim_task is not None

    @property
    def phrasings(self) -> list[str]:
        """Every wording of the task: its instructions, then its paraphrases."""
        return list(dict.fromkeys([*self.instructions, *self.paraphrases]))

    def instruction_for(self, trial_index: int) -> str:
        return self.instructions[trial_index % len(self.instructions)]


def find_task_file(name_or_path: str, tasks_dir: Path | None = None) -> Path:
    """A task id (looked up as <tasks_dir>/<id>.yaml) or a path to a YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        if not p.exists():
            raise ConfigError(f"{p}: task file not found")
        return p
    d = tasks_dir or DEFAULT_TASKS_DIR
    candidate = d / f"{name_or_path}.yaml"
    if not candidate.exists():
        known = sorted(x.stem for x in d.glob("*.yaml")) if d.is_dir() else []
        raise ConfigError(f"no task named {name_or_path!r} in {d}; known: {known}")
    return candidate


def load_task(name_or_path: str, tasks_dir: Path | None = None) -> TaskDef:
    """Load and validate one task definition (ConfigError names file + field)."""
    path = find_task_file(name_or_path, tasks_dir)
    task = load_yaml_model(TaskDef, path)
    if path.stem != task.id:
        raise ConfigError(f"{path}: field 'id': {task.id!r} must match the file name {path.stem!r}")
    task.source = str(path)
    return task


def list_tasks(tasks_dir: Path | None = None) -> list[TaskDef]:
    d = tasks_dir or DEFAULT_TASKS_DIR
    return [load_task(str(p)) for p in sorted(d.glob("*.yaml"))]


def parse_task_spec(spec: str, tasks_dir: Path | None = None) -> list[tuple[TaskDef, str]]:
    """'pick_place_toy' (all its variations) or 'pick_place_toy:unseen' -> [(task, variation), ...].

    'TASK:train' also works for a virtual-rig task that has the train variation (sim/train_variation.py)
    although no task file lists it: a bare TASK never runs it, so benchmarks stay on held-out scenes.
    """
    name, _, variation = spec.partition(":")
    if not name:
        raise ConfigError(f"--tasks {spec!r}: expected TASK or TASK:VARIATION")
    task = load_task(name, tasks_dir)
    if not variation:
        return [(task, v) for v in task.variations]
    if variation == "train" and task.scene.sim_task is not None:
        from ..sim.world import TASK_VARIATIONS

        if variation in TASK_VARIATIONS[task.scene.sim_task]:
            return [(task, variation)]
    if variation not in task.variations:
        raise ConfigError(f"--tasks {spec!r}: {task.source}: variation {variation!r} is not in field 'variations' "
                          f"(allowed: {', '.join(task.variations)})")
    return [(task, variation)]
