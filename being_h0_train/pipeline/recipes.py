"""What `make train-default` builds: the recipes, the task list with per-task demo counts, stage fingerprints.

Two recipes, chosen with --recipe; every option still overrides its recipe's value:

  single     today's shipped engine, models/being-h0-sim-small: pick_place_toy only, 460 demos, each
             window trained with its recorded instruction.  Stays the default so that `make
             train-default` keeps reproducing the engine `make run` ships, its README timings and
             its bench report until a multi-task engine has been trained and measured.
  multitask  one language-conditioned engine for pick_place_toy, close_lid, close_toolbox and
             pour_cup (unfold_clothes: add it with --tasks once its expert is good enough), into
             models/being-h0-sim-multitask; each training window gets a paraphrase of its task's
             instruction drawn from tasks/<id>.yaml, batches are task-balanced.

--tasks lists TASK or TASK:N (N demos of that task; --episodes for the others).  Demos and warm-up
layouts are drawn in --demo-variation: `seen` (single) or `train` (multitask: random objects, distractors,
light, table and camera jitter, kept clear of the bench's held-out draws, docs/training_variations.md),
with scene seeds demo-seed-base + i: benchmark trials use seeds 0.., so no demo shares a scene with a
trial (checked), and the bench's unseen objects and clutter never reach training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

RECIPES: dict[str, dict[str, Any]] = {
    "single": {
        "tasks": "pick_place_toy", "episodes": 460, "instructions": "recorded",
        "work": str(REPO / "runs" / "train_default"), "engine_dir": str(REPO / "models" / "being-h0-sim-small"),
        "warmup_samples": 16000, "warmup_steps": 3000, "warmup_seen_fraction": 0.0,
        "warmup_seen_first_steps": 0, "steps": 10000,
        "demo_variation": "seen",
    },
    # Sizes: 1100 demos (pick_place_toy, the task with three variations and the smallest objects, gets
    # the most); warm-up and post-training scaled with the number of tasks (single: 16000 layouts /
    # 3000 steps, 10000 steps) but sub-linearly, since the tasks share the arm, the table and the camera.
    # Warm-up: half its layouts show the bench's seen scenes and its first 1000 steps use only those; on
    # train-variation layouts alone the query readout stayed blind (docs/training_variations.md).
    "multitask": {
        "tasks": "pick_place_toy:400,close_lid:200,close_toolbox:200,pour_cup:300", "episodes": 200,
        "instructions": "paraphrases",
        "work": str(REPO / "runs" / "train_multitask"), "engine_dir": str(REPO / "models" / "being-h0-sim-multitask"),
        "warmup_samples": 32000, "warmup_steps": 6000, "warmup_seen_fraction": 0.5,
        "warmup_seen_first_steps": 1000, "steps": 30000,
        "demo_variation": "train",
    },
}


class StageFailed(Exception):
    """A stage could not finish; ``code`` is the pipeline's exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def parse_tasks(spec: str, default_count: int) -> dict[str, int]:
    """'pick_place_toy:400,close_lid' -> {task: demos}; every task must have a virtual-rig scene."""
    from being_h0_runtime.bench.tasks import load_task
    from being_h0_runtime.config import ConfigError

    out: dict[str, int] = {}
    for item in (x.strip() for x in spec.split(",")):
        if not item:
            continue
        name, _, count = item.partition(":")
        try:
            n = int(count) if count else default_count
        except ValueError:
            raise StageFailed(f"--tasks {item!r}: expected TASK or TASK:N with N a number of demos ", 2) from None
        if n < 1:
            raise StageFailed(f"--tasks {item!r}: the number of demos must be >= 1", 2)
        if name in out:
            raise StageFailed(f"--tasks: {name!r} is listed twice", 2)
        try:
            task = load_task(name)
        except ConfigError as err:
            raise StageFailed(f"--tasks: {err}", 2) from None
        if not task.virtual:
            raise StageFailed(f"--tasks: {task.source} has no virtual-rig scene (scene.sim_task is null)", 2)
        out[task.id] = n
    if not out:
        raise StageFailed("--tasks: no task given", 2)
    return out


def check_stage(directory: Path, settings: dict[str, Any]) -> None:
    """Record what a stage is built from in ``<directory>/stage.json``; refuse to continue another stage's work.

    A finished or half-done stage is reused only when it was made from the same settings: a
    multi-task run must never pick up a single-task checkpoint because both used the same --work.
    """
    path = directory / "stage.json"
    want = json.loads(json.dumps(settings))  # as it reads back (tuples -> lists)
    if path.exists():
        have = json.loads(path.read_text())
        if have != want:
            diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
            detail = ", ".join(f"{k}: {have.get(k)!r} then, {want.get(k)!r} now" for k in diff)
            raise StageFailed(f"{directory} was made with other settings ({detail}); remove that folder to "
                              "redo the stage, pass --fresh to redo everything, or use another --work", 2)
        return
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("stage.json.tmp")
    tmp.write_text(json.dumps(want, indent=2))
    tmp.replace(path)


def stage_matches(directory: Path, settings: dict[str, Any]) -> bool:
    """True when ``directory`` has no stage.json (made before they existed) or one equal to ``settings``."""
    path = directory / "stage.json"
    return not path.exists() or json.loads(path.read_text()) == json.loads(json.dumps(settings))


def reuse_or_claim(directory: Path, settings: dict[str, Any], finished: bool) -> bool:
    """True: `directory` holds this stage finished with these settings (or from before stage.json existed).

    False: the stage is to run (again or on from its checkpoints) and the folder is now marked with
    `settings`.  StageFailed when the folder belongs to other settings, finished or not.
    """
    if finished and not (directory / "stage.json").exists():
        return True  # made before stages were fingerprinted: reused as before
    check_stage(directory, settings)
    return finished
