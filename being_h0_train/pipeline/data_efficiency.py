"""Does physical instruction tuning earn its place?  Success vs. fraction of one task's demos, with and
without the hand-motion pretraining stage (the Being-H0 paper's data-efficiency figure, on the virtual rig).

For every arm (with / without pretraining) and every fraction of the task's demos (default 25 / 50 /
100%) one engine is post-trained, exported to ONNX and benchmarked with `being-h0 bench run`; the
success rates with Wilson 95% intervals go into a table and a plot in <engine-dir>/data_efficiency/.

    start backbone (vision warm-up) --------------------------------> post-train on f% -> engine -> bench
    start backbone -> hand-motion pretraining (once, shared) -------> post-train on f% -> engine -> bench

- demos: the task's episodes of an exported dataset (default: the multi-task `make train-default`
  run's runs/train_multitask/dataset), or of a record folder (--demos, exported here); fraction f
  trains on the first ceil(f * N) in dataset order (scene-seed order), so 25% is inside 50% inside
  100%; no episode is held out (the bench is the measure);
- start backbone: the finished vision warm-up of that run (--warmup DIR, default), one made here
  (--warmup run) or the random preset (--warmup none); the same for both arms;
- hand-motion pretraining: Being-H0's three instruction-tuning tasks (vla/train.py) on generated
  MANO hand clips (motion/synthetic.py), the stand-in for the paper's human hand videos: the
  recorded demos are not used for it, so the "with" arm sees no more robot data than the other;
- bench: --trials trials of TASK:--variation with seeds --base-seed.. (checked against the demos'
  scene seeds: no trial shares a scene with a demo).

Every stage is resumable and reused: cut it off at any moment and run the same command again (the
pretraining resumes from its last checkpoint, post-training from its checkpoint, the bench per
trial; finished cells are reused).  A stage folder made with other settings is refused (remove it,
use --fresh or another --work).  Raising --trials re-runs only the benches.

Examples:
  python -m being_h0_train.pipeline.data_efficiency                       # the full study (hours on 2 cores)
  python -m being_h0_train.pipeline.data_efficiency --arms without --fractions 0.25 1.0
  python -m being_h0_train.pipeline.data_efficiency --demos runs/train_multitask/demos/pick_place_toy \\
      --warmup none --steps 300 --pretrain-steps 50 --trials 3 --work runs/de_quick --engine-dir runs/de_quick
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import dataeff_stages as stages
from .dataeff_data import demo_seeds, export_demos, subset_size, task_episodes, write_subset
from .dataeff_report import ARM_LABELS, Cell, write_report
from .recipes import StageFailed

REPO = Path(__file__).resolve().parents[2]
MULTITASK = REPO / "runs" / "train_multitask"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m being_h0_train.pipeline.data_efficiency", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    d = ap.add_argument_group("demos")
    d.add_argument("--task", default="pick_place_toy", help="the task whose demos are cut into fractions")
    d.add_argument("--dataset", default=None, help="exported dataset (meta.json, or dataset.json of the post-"
                   f"training npz format); default {MULTITASK.relative_to(REPO)}/dataset, else --demos")
    d.add_argument("--demos", default=None, help="a `being-h0 record --out` folder instead: its kept demos are "
                   f"exported into WORK/dataset (default when there is no dataset: "
                   f"{MULTITASK.relative_to(REPO)}/demos/TASK)")
    d.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0],
                   help="fractions of the task's demos, each trains on the first ceil(f * N) (nested)")
    d.add_argument("--arms", nargs="+", choices=list(ARM_LABELS), default=list(ARM_LABELS),
                   help="with: post-train from the hand-motion-pretrained backbone; without: from the start backbone")
    w = ap.add_argument_group("start backbone (both arms)")
    w.add_argument("--warmup", default=str(MULTITASK / "warmup"), metavar="DIR|run|none",
                   help="a finished vision warm-up folder (default: the multi-task run's), `run` to warm up "
                        "here on TASK's scene, or `none` for the randomly initialised --backbone preset")
    w.add_argument("--backbone", default="sim-small", help="backbone preset (--warmup run / none)")
    w.add_argument("--warmup-samples", type=int, default=16000, help="rendered layouts (--warmup run)")
    w.add_argument("--warmup-steps", type=int, default=3000, help="warm-up steps (--warmup run)")
    w.add_argument("--warmup-variation", choices=("seen", "train"), default="train",
                   help="scene variation of the rendered layouts (--warmup run)")
    p = ap.add_argument_group("hand-motion pretraining (physical instruction tuning, the `with` arm)")
    p.add_argument("--pretrain-clips", type=int, default=768, help="generated MANO clips of 32 frames (one window "
                   "each; ~37 KB of frames per clip stay in memory)")
    p.add_argument("--pretrain-steps", type=int, default=2000)
    p.add_argument("--pretrain-batch", type=int, default=16)
    p.add_argument("--pretrain-lr", type=float, default=3e-4,
                   help="below vla/train.py's 1e-3: it starts from a warmed-up backbone, not from scratch")
    p.add_argument("--pretrain-tokenizer-steps", type=int, default=600,
                   help="steps of the GRQ motion tokenizer trained on the clips first")
    p.add_argument("--pretrain-eval-samples", type=int, default=8,
                   help="held-out windows its instructional motion generation is scored on (0: skip)")
    t = ap.add_argument_group("post-training (every cell; as `make train-default`'s single recipe)")
    t.add_argument("--steps", type=int, default=10000, help="post-training steps, the same for every cell")
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--lr", type=float, default=3e-4)
    t.add_argument("--train-mode", default="full", choices=["frozen", "llm", "lora", "full"])
    t.add_argument("--vision-lr-scale", type=float, default=0.1)
    t.add_argument("--augment", default="none", choices=["none", "color", "crop+color"])
    t.add_argument("--instructions", choices=["recorded", "paraphrases"], default="recorded",
                   help="words a window is trained with: its recorded instruction or a paraphrase (the dataset's "
                        "instructions.json)")
    t.add_argument("--seed", type=int, default=0, help="training seed of every stage")
    b = ap.add_argument_group("benchmark")
    b.add_argument("--trials", type=int, default=20, help="bench trials per cell (0: train and export only)")
    b.add_argument("--base-seed", type=int, default=100, help="trial i uses scene seed base + i; must miss the "
                   "demos' seeds (train-default: 1000..) and is clear of the engines' own bench (0..19)")
    b.add_argument("--variation", default="seen", help="bench variation of TASK")
    b.add_argument("--time-limit", type=float, default=0, help="seconds per trial (0: the task file's)")
    o = ap.add_argument_group("run")
    o.add_argument("--work", default=str(REPO / "runs" / "data_efficiency"), help="folder of every stage")
    o.add_argument("--engine-dir", default=str(REPO / "models" / "being-h0-sim-multitask"),
                   help="engine folder whose data_efficiency/ receives the table and the plot")
    o.add_argument("--jobs", type=int, default=max(1, os.cpu_count() or 1), help="processes (export, warm-up)")
    o.add_argument("--threads", type=int, default=max(1, os.cpu_count() or 2), help="torch CPU threads")
    o.add_argument("--save-every", type=int, default=500, help="checkpoint period (steps) of every training stage")
    o.add_argument("--fresh", action="store_true", help="remove WORK first and start over")
    return ap


def input_dataset(a: argparse.Namespace, work: Path) -> Path:
    """--dataset, else --demos exported into WORK/dataset, else the multi-task run's dataset or demos."""
    if a.dataset and a.demos:
        raise StageFailed("give --dataset or --demos, not both", 2)
    if a.dataset:
        return Path(a.dataset)
    if a.demos:
        return export_demos(Path(a.demos), work)
    if (MULTITASK / "dataset" / "meta.json").exists():
        return MULTITASK / "dataset"
    if (MULTITASK / "demos" / a.task / "record_log.jsonl").exists():
        return export_demos(MULTITASK / "demos" / a.task, work)
    raise StageFailed(f"no demos: neither {MULTITASK / 'dataset'} nor {MULTITASK / 'demos' / a.task} exists yet "
                      "(`make train-default TRAIN_ARGS=\"--recipe multitask\"` writes them); pass --dataset or --demos", 2)


def check_bench_seeds(a: argparse.Namespace, seeds: set[int] | None) -> None:
    trials = set(range(a.base_seed, a.base_seed + a.trials))
    if seeds is None:
        print("note: the dataset does not say which scene seeds its demos used; bench seeds not checked", flush=True)
    elif trials & seeds:
        raise StageFailed(f"--base-seed {a.base_seed} with {a.trials} trials uses scene seeds of the demos "
                          f"({min(trials & seeds)}..): pick a base seed outside {min(seeds)}..{max(seeds)}", 2)


class Timings:
    """Seconds each stage took when it last ran (WORK/timings.json); a reused stage keeps its earlier time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict = json.loads(path.read_text()) if path.exists() else {}

    def measure(self, key: str, ran: bool, t0: float) -> None:
        if ran:
            self.data[key] = round(time.monotonic() - t0, 1)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(self.data, indent=2))
            tmp.replace(self.path)


def run_cells(a: argparse.Namespace, work: Path, eps, timings: Timings) -> list[Cell]:
    """Every (arm, fraction) cell: post-train, export, bench; the shared stages first."""
    start, start_fp = stages.start_backbone(a, work, eps.dataset, a.task)
    backbones = {"without": (start, start_fp)}
    if "with" in a.arms:
        t, ran = time.monotonic(), not (work / "pretrain" / stages.PRETRAIN_DONE).exists()
        backbones["with"] = stages.pretrain(a, work, start, start_fp)
        timings.measure("pretrain_s", ran, t)
    cells, todo = [], [(arm, f) for arm in a.arms for f in sorted(set(a.fractions))]
    for i, (arm, f) in enumerate(todo, 1):
        n = subset_size(f, len(eps.ids))
        name = f"{arm}_{round(f * 100):03d}"
        cell = work / "cells" / name
        print(f"\n=== cell {i}/{len(todo)}: {ARM_LABELS[arm]}, {f:.0%} = {n}/{len(eps.ids)} demos "
              f"({a.steps} post-training steps) ===", flush=True)
        subset = write_subset(eps, f, work / "subsets" / f"pct_{round(f * 100):03d}")
        t, ran = time.monotonic(), not (cell / "posttrain" / "final" / "posttrain_config.json").exists()
        final = stages.post_train(a, cell, subset, eps, n, *backbones[arm])
        timings.measure(f"{name}/posttrain_s", ran, t)
        t, ran = time.monotonic(), not (cell / "engine" / "manifest.json").exists()
        engine = stages.export(final, cell / "engine", f"dataeff-{a.task}-{name}")
        timings.measure(f"{name}/export_s", ran, t)
        k, trials = 0, 0
        if a.trials > 0:
            t, ran = time.monotonic(), not (cell / "bench" / "result.json").exists()
            k, trials = stages.bench(a, cell, engine, a.task)
            timings.measure(f"{name}/bench_s", ran, t)
            print(f"{name}: {k}/{trials} successes", flush=True)
        cells.append(Cell(arm, f, n, k, trials))
    return cells


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    a = _parser().parse_args(argv)
    os.environ.setdefault("MUJOCO_GL", "egl")
    t0 = time.monotonic()
    try:
        work = Path(a.work)
        if a.fresh and work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
        for f in a.fractions:
            subset_size(f, 1)  # a bad fraction fails before any stage runs
        eps = task_episodes(input_dataset(a, work), a.task)
        if a.trials > 0:
            check_bench_seeds(a, demo_seeds(eps, a.task))
        print(f"{a.task}: {len(eps.ids)} demos in {eps.dataset}; cells: {', '.join(a.arms)} x "
              f"{', '.join(f'{f:.0%}' for f in sorted(set(a.fractions)))}", flush=True)
        timings = Timings(work / "timings.json")
        cells = run_cells(a, work, eps, timings)
    except StageFailed as failed:
        print(f"error: {failed}", file=sys.stderr, flush=True)
        return failed.code
    settings = {"task": a.task, "variation": a.variation, "demos": eps.fingerprint(), "base_seed": a.base_seed,
                "trials": a.trials, "warmup": a.warmup, "backbone": a.backbone,
                **{k: v for k, v in vars(a).items() if k.startswith("pretrain_")},
                **{k: getattr(a, k) for k in ("steps", "batch_size", "lr", "train_mode", "vision_lr_scale",
                                              "augment", "instructions", "seed", "threads")},
                "timings_s": timings.data}
    command = "python -m being_h0_train.pipeline.data_efficiency " + shlex.join(argv)
    files = write_report(cells, settings, command, Path(a.engine_dir) / "data_efficiency")
    print(f"\ndone in {(time.monotonic() - t0) / 60:.1f} min:\n" + "\n".join(f"  {p}" for p in files), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
