"""`being-h0 bench language`: does an engine follow its instruction?  Same scene, different words.

A language-conditioned engine must act differently when told to do something else in the very
same scene, and alike when told the same thing in other words.  For every task (default: the
tasks the engine was trained on, from its manifest) and several scenes of it (`seen` variation,
scene seeds from --base-seed), the engine predicts its first action chunk at the scene's first
frame three ways:

  own        the task's first instruction (tasks/<id>.yaml)
  paraphrase each of its other instructions (the same meaning in other words), averaged: a
             paraphrase that shares most tokens with `own` alone would flatter a model that
             reacts to any change of the text
  foreign    the first instruction of each other task (e.g. "close the box" in the toy scene)

and the shifts are the mean absolute differences of the predicted arm joint targets (rad) against
`own`.  An engine follows language when the foreign shift is at least --min-shift and at least
--ratio times the paraphrase shift; an engine that ignores the text has both at 0, one that reads
words without meaning has them alike.  `scene spread` (how much `own` varies over the scenes)
puts the shifts on the scale of what the camera changes.

--closed-loop N also runs N episodes per task told the own, the first paraphrase and the first
foreign instruction (the whole node graph, in process) and reports how far the hand's path is
from own's (cm, mean and at the end) and each one's successes: the behaviour, not just the first
chunk.  Following language: the paraphrase path stays close, the foreign one goes elsewhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_TASKS = ("pick_place_toy", "close_lid", "close_toolbox", "pour_cup")
ARM = slice(0, 7)


@dataclass
class TaskShift:
    """Open-loop shifts of one task's scenes (rad, mean |delta| of the arm joint targets over the chunk)."""

    task: str
    scenes: int
    own: str
    paraphrases: list[str]
    paraphrase_shift: float | None
    foreign_shift: float
    foreign_by_task: dict[str, float]
    scene_spread: float
    follows_language: bool = False
    closed_loop: dict[str, Any] = field(default_factory=dict)


def arm_shift(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two action chunks' arm joint targets (rad)."""
    return float(np.mean(np.abs(np.asarray(a)[:, ARM] - np.asarray(b)[:, ARM])))


def judge(shift: TaskShift, min_shift: float, ratio: float) -> bool:
    """Foreign words move the arm by at least `min_shift`, and `ratio` times more than a paraphrase does."""
    para = shift.paraphrase_shift or 0.0
    return shift.foreign_shift >= min_shift and shift.foreign_shift >= ratio * para


def measure_task(infer: Callable[[np.ndarray, np.ndarray, str], np.ndarray], task: str,
                 scenes: Sequence[tuple[np.ndarray, np.ndarray]], words: dict[str, list[str]]) -> TaskShift:
    """Shifts for one task; `infer(image, proprio, instruction)` -> (chunk, action dims); `words`: task -> phrasings."""
    own, paras = words[task][0], words[task][1:]
    others = {t: w[0] for t, w in words.items() if t != task and w[0] != own}
    if not others:
        raise ValueError(f"{task}: no other task's instruction to compare with (give --tasks with at least two)")
    own_chunks, para_shifts, foreign = [], [], {t: [] for t in others}
    for image, proprio in scenes:
        a = infer(image, proprio, own)
        own_chunks.append(a)
        para_shifts += [arm_shift(a, infer(image, proprio, p)) for p in paras]
        for t, w in others.items():
            foreign[t].append(arm_shift(a, infer(image, proprio, w)))
    by_task = {t: float(np.mean(v)) for t, v in foreign.items()}
    spread = float(np.mean(np.std(np.stack(own_chunks)[:, :, ARM], axis=0))) if len(scenes) > 1 else 0.0
    return TaskShift(task, len(scenes), own, paras, float(np.mean(para_shifts)) if para_shifts else None,
                     float(np.mean(list(by_task.values()))), by_task, spread)


def scene_frames(task: str, seeds: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """First camera frame and proprio (arm at home, hand open) of each scene of `task` (seen variation)."""
    from ..sim.world import VirtualRig

    rig = VirtualRig(task, "seen", seed=seeds[0])
    out = []
    try:
        for s in seeds:
            rig.reset(s)
            out.append((rig.render_rgb(), np.r_[rig.arm_q(), rig.hand_closure()]))
    finally:
        rig.close()
    return out


def engine_tasks(engine_dir: Path) -> list[str]:
    """The tasks the engine's manifest says it was trained on (train-default records them), else DEFAULT_TASKS."""
    m = json.loads((engine_dir / "manifest.json").read_text())
    tasks = ((m.get("training") or {}).get("pipeline") or {}).get("tasks")
    return list(tasks) if tasks else list(DEFAULT_TASKS)


def path_gap_cm(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean and final distance (cm) between two hand paths sampled at the same ticks (the shorter one's length)."""
    n = min(len(a), len(b))
    if n == 0:
        return 0.0, 0.0
    d = np.linalg.norm(np.asarray(a)[:n] - np.asarray(b)[:n], axis=1) * 100
    return float(d.mean()), float(d[-1])


def closed_loop(engine_dir: Path, task: str, words: dict[str, str], seeds: Sequence[int],
                time_limit_s: float) -> dict[str, Any]:
    """Episodes of `task`'s scenes told `words` (label -> instruction; "own" first): how far each label's hand
    path is from own's (mean and final, cm) and how often each succeeded at the scene's task."""
    from ..operator import run_episode_inproc
    from .engines import resolve_engine
    from .tasks import load_task
    from .trial import trial_overrides

    tdef, ref = load_task(task), resolve_engine(str(engine_dir), "onnxruntime")
    over = trial_overrides("sim", tdef, "seen", ref, time_limit_s)
    gaps: dict[str, list[tuple[float, float]]] = {k: [] for k in words if k != "own"}
    wins = dict.fromkeys(words, 0)
    for seed in seeds:
        paths = {}
        for label, instruction in words.items():
            path: list[np.ndarray] = []

            def watch(ctx: Any, nodes: dict[str, Any], path: list = path) -> None:
                rig = nodes["virtual_rig"].rig
                ctx.create_node("language_probe").create_timer(0.1, lambda: path.append(np.asarray(rig.grasp_pose()[0])))

            out = run_episode_inproc("sim", seed=seed, overrides=over, time_limit_s=time_limit_s, setup=watch,
                                     task_id=tdef.id, instruction=instruction)
            wins[label] += bool(out.success)
            paths[label] = np.asarray(path)
        for label, found in gaps.items():
            found.append(path_gap_cm(paths["own"], paths[label]))
    return {"episodes": len(seeds), "words": words, "successes": wins,
            "path_gap_cm": {k: float(np.mean([g[0] for g in v])) for k, v in gaps.items()},
            "final_gap_cm": {k: float(np.mean([g[1] for g in v])) for k, v in gaps.items()}}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="being-h0 bench language", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", required=True, type=Path, help="engine directory (manifest.json)")
    ap.add_argument("--tasks", default=None, help="comma-separated task ids (default: the engine's training tasks; "
                    "with one, the default four give the foreign instructions)")
    ap.add_argument("--scenes", type=int, default=10, help="scenes per task (seeds base-seed..)")
    ap.add_argument("--base-seed", type=int, default=0, help="scene seed of the first scene")
    ap.add_argument("--min-shift", type=float, default=0.05, help="rad: the least foreign shift that counts "
                    "(the single-task pick_place_toy engine, which never saw another instruction, moves 0.02-0.06)")
    ap.add_argument("--ratio", type=float, default=2.0, help="foreign shift / paraphrase shift that counts")
    ap.add_argument("--closed-loop", type=int, default=0, metavar="N", help="also run N episodes per task told "
                    "the own, a paraphrased and a foreign instruction")
    ap.add_argument("--time-limit", type=float, default=20.0, help="closed-loop episode length (s of sim time)")
    ap.add_argument("--backend", default="onnxruntime", choices=["onnxruntime", "torch"])
    ap.add_argument("--json", type=Path, default=None, help="write the figures here too")
    return ap


def run_parsed(args: argparse.Namespace, ap: argparse.ArgumentParser) -> int:
    from ..config import ConfigError
    from ..policy.engine import load_engine_policy
    from ..policy.spec import Observation
    from .tasks import load_task

    if args.scenes < 1:
        ap.error("--scenes must be >= 1")
    try:
        tasks = [t for t in args.tasks.split(",") if t] if args.tasks else engine_tasks(args.engine)
        pool = list(dict.fromkeys([*tasks, *DEFAULT_TASKS])) if len(tasks) == 1 else tasks
        words = {t: load_task(t).phrasings for t in pool}
        policy = load_engine_policy(args.engine, backend=args.backend)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    def infer(image: np.ndarray, proprio: np.ndarray, instruction: str) -> np.ndarray:
        return policy.infer(Observation(stamp=0.0, proprio=proprio, proprio_names=policy.spec.names,
                                        instruction=instruction, image=image))

    seeds = range(args.base_seed, args.base_seed + args.scenes)
    results = []
    for task in tasks:
        shift = measure_task(infer, task, scene_frames(task, seeds), words)
        shift.follows_language = judge(shift, args.min_shift, args.ratio)
        if args.closed_loop:
            foreign = next(iter(t for t in pool if t != task))
            said = {"own": shift.own, **({"paraphrase": shift.paraphrases[0]} if shift.paraphrases else {}),
                    "foreign": words[foreign][0]}
            shift.closed_loop = closed_loop(args.engine, task, said, list(seeds)[:args.closed_loop], args.time_limit)
        results.append(shift)
        print(_line(shift), flush=True)
    ok = all(r.follows_language for r in results)
    print(f"{'follows' if ok else 'does NOT follow'} its instruction on "
          f"{sum(r.follows_language for r in results)}/{len(results)} task(s) "
          f"(foreign shift >= {args.min_shift} rad and >= {args.ratio} x paraphrase shift)")
    if args.json:
        args.json.write_text(json.dumps({"engine": str(args.engine), "tasks": [asdict(r) for r in results],
                                         "min_shift": args.min_shift, "ratio": args.ratio}, indent=2))
    return 0 if ok else 1


def _line(s: TaskShift) -> str:
    para = "n/a" if s.paraphrase_shift is None else f"{s.paraphrase_shift:.3f}"
    line = (f"{s.task:<15} {s.scenes} scenes: foreign shift {s.foreign_shift:.3f} rad, paraphrase {para}, "
            f"scene spread {s.scene_spread:.3f}  -> {'follows language' if s.follows_language else 'NOT'}")
    if s.closed_loop:
        c = s.closed_loop
        for label, gap in c["path_gap_cm"].items():
            line += (f"\n{'':<15} closed loop, {label} {c['words'][label]!r}: hand path {gap:.1f} cm from own's "
                     f"(end {c['final_gap_cm'][label]:.1f} cm)")
        line += f"\n{'':<15} successes of {c['episodes']}: " + ", ".join(f"{k} {v}" for k, v in c["successes"].items())
    return line


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    return run_parsed(ap.parse_args(argv), ap)


if __name__ == "__main__":
    sys.exit(main())
