"""`make train-default`: the closed loop that produces the virtual rig's default engine.

    record demos of every task (scripted operator, real recording path)  ->  export one dataset
      ->  vision warm-up on rendered layouts of every task's scene    (perception.py: the stand-in for a pretrained ViT)
      ->  post-train one tiny Being-H0-architecture model on all tasks ->  ONNX engine directory (+ parity report)
      ->  success-rate benchmark of every task and variation           ->  report beside the engine

Recipes (--recipe, see pipeline/recipes.py): `single` (default) rebuilds the shipped pick_place_toy
engine models/being-h0-sim-small; `multitask` builds one language-conditioned engine for
pick_place_toy, close_lid, close_toolbox and pour_cup into models/being-h0-sim-multitask.
Every option overrides its recipe's value; every setting and seed lands in the engine manifest
("training" -> "pipeline").

Runs on a 2-core CPU; each stage shows progress.  Cut it off at any moment (Ctrl-C, SIGTERM, a
crash) and run the same command again: recording resumes per episode, the warm-up per render
chunk and training checkpoint, post-training from its checkpoint (bit for bit), finished stages
are reused.  A stage folder made with other settings is refused, not mixed in (--fresh starts over).

Examples:
  python -m being_h0_train.pipeline.train_default                        # the shipped engine's recipe
  python -m being_h0_train.pipeline.train_default --recipe multitask     # one engine, four tasks
  python -m being_h0_train.pipeline.train_default --recipe multitask \\
      --tasks pick_place_toy:400,close_lid,unfold_clothes:100 --episodes 200   # other tasks / counts
  python -m being_h0_train.pipeline.train_default --episodes 20 --steps 300 --trials 5 \\
      --work runs/quick --engine-dir runs/quick/engine                   # a quick smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .demos import being_h0, dataset_settings, image_use, record_and_export
from .recipes import RECIPES, StageFailed, parse_tasks, reuse_or_claim

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ENGINE = REPO / "models" / "being-h0-sim-small"


def _parser() -> argparse.ArgumentParser:
    values = "\n".join(f"  {name}: " + ", ".join(f"{k}={Path(v).name if k in ('work', 'engine_dir') else v}"
                                                 for k, v in r.items()) for name, r in RECIPES.items())
    ap = argparse.ArgumentParser(prog="train-default", description=f"{__doc__}\nrecipe values:\n{values}",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", choices=sorted(RECIPES), default="single",
                    help="preset of the options marked [recipe] (single: the shipped pick_place_toy engine)")
    ap.add_argument("--tasks", default=None, help="[recipe] comma-separated TASK or TASK:N (N demos of it; "
                    "--episodes for the others), e.g. pick_place_toy:400,close_lid,pour_cup:300")
    ap.add_argument("--episodes", "--episodes-per-task", dest="episodes", type=int, default=None,
                    help="[recipe] demos per task without its own :N (each is one scene layout; ~1.3 s each "
                         "with 2 jobs for pick_place_toy)")
    ap.add_argument("--instructions", choices=["recorded", "paraphrases"], default=None,
                    help="[recipe] words a training window gets: its recorded instruction, or a phrasing "
                         "drawn from its task's `instructions` and `paraphrases` (tasks/<id>.yaml)")
    ap.add_argument("--work", default=None, help="[recipe] scratch directory for all stages")
    ap.add_argument("--engine-dir", default=None, help="[recipe] where the engine directory is written")
    ap.add_argument("--demo-seed-base", type=int, default=1000, help="demo i of each task uses scene seed base + i "
                    "(benchmark trials use seeds from 0, so demos and trials never share a scene)")
    ap.add_argument("--demo-variation", default=None, choices=("seen", "train"),
                    help="[recipe] scene variation of the demos and the warm-up layouts: seen (the bench's seen "
                         "scenes) or train (random objects, distractors, light, table and camera jitter, never "
                         "the bench's unseen/clutter draws: docs/training_variations.md)")
    ap.add_argument("--jobs", type=int, default=max(1, os.cpu_count() or 1),
                    help="processes for recording and rendering (the virtual rig is CPU-bound)")
    ap.add_argument("--warmup-samples", type=int, default=None,
                    help="[recipe] rendered layouts for the vision warm-up, all tasks together (0: skip it)")
    ap.add_argument("--warmup-steps", type=int, default=None, help="[recipe] vision warm-up steps (batch 32)")
    ap.add_argument("--warmup-seen-fraction", type=float, default=None,
                    help="[recipe] with --demo-variation train: this fraction of the warm-up layouts shows the "
                         "bench's seen scenes (they teach the query readout, which train layouts alone did not)")
    ap.add_argument("--warmup-seen-first-steps", type=int, default=None,
                    help="[recipe] the warm-up's first N steps train on those seen layouts only (a curriculum)")
    ap.add_argument("--backbone", default="sim-small", help="backbone preset (being_h0_runtime.policy.models.vla_config.PRESETS)")
    ap.add_argument("--steps", type=int, default=None, help="[recipe] post-training steps")
    ap.add_argument("--save-every", type=int, default=500,
                    help="checkpoint period of the warm-up and post-training (steps); they also checkpoint on "
                         "SIGTERM / Ctrl-C")
    ap.add_argument("--augment", default="none", choices=["none", "color", "crop+color"],
                    help="image augmentation; a fixed camera's pixels are table positions, so no crop by default")
    ap.add_argument("--vision-lr-scale", type=float, default=0.1,
                    help="post-training lr multiplier for the (warmed-up) vision tower")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--train-mode", default="full", choices=["frozen", "llm", "lora", "full"])
    ap.add_argument("--seed", type=int, default=0, help="training seed (init, split, batches, augmentation)")
    ap.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2)), help="torch CPU threads")
    ap.add_argument("--trials", type=int, default=20, help="benchmark trials per task and variation (0: skip)")
    ap.add_argument("--variations", default="seen,unseen,clutter",
                    help="benchmark variations (each task runs those of them its task file lists)")
    ap.add_argument("--fresh", action="store_true", help="ignore outputs of an earlier run in --work")
    return ap


def resolve(a: argparse.Namespace) -> argparse.Namespace:
    """Fill the [recipe] options the command line left out; parse the task list."""
    for key, value in RECIPES[a.recipe].items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    a.task_counts = parse_tasks(a.tasks, a.episodes)
    if not 0.0 <= a.warmup_seen_fraction < 1.0 or a.warmup_seen_first_steps < 0:
        raise StageFailed(f"--warmup-seen-fraction must be in [0, 1) and --warmup-seen-first-steps >= 0, got "
                          f"{a.warmup_seen_fraction} and {a.warmup_seen_first_steps}", 2)
    if a.trials > 0 and a.demo_seed_base < a.trials:
        raise StageFailed(f"--demo-seed-base {a.demo_seed_base} overlaps the benchmark's trial seeds 0..{a.trials - 1}: "
                          "demos must never share a scene with a trial", 2)
    return a


def warmup_fingerprint(a: argparse.Namespace, s) -> dict:
    """What the warm-up's result depends on (a setting at its old default is left out, so folders made
    before it existed stay valid)."""
    fp = {"dataset": dataset_settings(a.task_counts, a.demo_seed_base, a.demo_variation), "backbone": a.backbone,
          "samples": s.samples, "steps": s.steps, "batch_size": s.batch_size, "lr": s.lr, "seed": s.seed}
    if s.variation == "train" and s.seen_fraction > 0:
        fp["seen_fraction"] = s.seen_fraction
        if s.seen_first_steps > 0:
            fp["seen_first_steps"] = s.seen_first_steps
    return fp


def vision_warm_up(a: argparse.Namespace, work: Path, data: Path, timings: dict[str, float]) -> str:
    """Stage 3: the vision warm-up on rendered layouts; returns the backbone post-training starts from."""
    if a.warmup_samples <= 0:
        return a.backbone
    warm = work / "warmup"
    t = time.monotonic()
    print(f"\n=== 3/6 vision warm-up: {a.warmup_samples} rendered layouts of {', '.join(a.task_counts)}, "
          f"{a.warmup_steps} steps ===", flush=True)
    from being_h0_train.posttrain.perception import WarmUpSettings, describe
    from being_h0_train.posttrain.perception import run as warm_up

    s = WarmUpSettings(samples=a.warmup_samples, steps=a.warmup_steps, seed=a.seed, jobs=a.jobs,
                       save_every=a.save_every, variation=a.demo_variation, seen_fraction=a.warmup_seen_fraction,
                       seen_first_steps=a.warmup_seen_first_steps)
    settings = warmup_fingerprint(a, s)
    if not reuse_or_claim(warm, settings, (warm / "warmup.json").exists()):
        import torch

        torch.set_num_threads(a.threads)
        m = warm_up(data, warm, a.backbone, s, tasks=list(a.task_counts))
        if "interrupted" in m:
            raise StageFailed(f"vision warm-up stopped by signal {m['interrupted']}; run the same command again "
                              "to resume", int(m["exit_code"]))
    else:
        m = json.loads((warm / "warmup.json").read_text())["metrics"]
        print(f"reusing {warm}", flush=True)
    print(f"held-out position error, median: {describe(m)}", flush=True)
    timings["warmup_s"] = time.monotonic() - t
    return str(warm)


def post_train(a: argparse.Namespace, work: Path, data: Path, backbone: str, timings: dict[str, float]) -> Path:
    """Stage 4: post-training (resumed from its checkpoints); returns the final model directory."""
    post = work / "posttrain"
    t = time.monotonic()
    print(f"\n=== 4/6 post-training ({a.train_mode}, {a.steps} steps, batch {a.batch_size}, "
          f"{len(a.task_counts)} task(s), {a.instructions} instructions) ===", flush=True)
    final = post / "final"
    # what the result depends on (not the checkpoint period or the thread count)
    settings = {"dataset": dataset_settings(a.task_counts, a.demo_seed_base, a.demo_variation), "backbone": backbone,
                **{k: getattr(a, k) for k in ("train_mode", "steps", "batch_size", "lr", "vision_lr_scale", "seed",
                                              "augment", "instructions")}}
    warm_stage = Path(backbone) / "stage.json"
    if warm_stage.exists():  # the warm-up folder's path is not its content: a redone warm-up must not resume
        settings["backbone_stage"] = json.loads(warm_stage.read_text())  # post-training from the old one
    if not reuse_or_claim(post, settings, (final / "posttrain_config.json").exists()):
        import torch

        torch.set_num_threads(a.threads)
        from being_h0_train.posttrain.tasks import INSTRUCTIONS_FILE
        from being_h0_train.posttrain.train import main as train_main

        args = ["--data", str(data), "--backbone", backbone, "--train-mode", a.train_mode, "--steps", str(a.steps),
                "--batch-size", str(a.batch_size), "--lr", str(a.lr), "--vision-lr-scale", str(a.vision_lr_scale),
                "--seed", str(a.seed), "--out", str(post), "--eval-every", "0"]
        args += {"none": ["--no-augment"], "color": ["--no-crop"], "crop+color": []}[a.augment]
        if a.instructions == "paraphrases":
            args += ["--instructions", str(data / INSTRUCTIONS_FILE)]
        args += ["--save-every", str(min(a.save_every, max(a.steps // 4, 1)))]
        if (post / "checkpoints").exists():
            args.append("--resume")
        code = train_main(args)
        if code:
            raise StageFailed(f"post-training exited {code}" + ("; run the same command again to resume"
                                                                if code > 128 else ""), int(code))
    else:
        print(f"reusing {final}", flush=True)
    timings["posttrain_s"] = time.monotonic() - t
    return final


def record_settings(a: argparse.Namespace, final: Path, kept: dict[str, int], timings: dict[str, float]) -> dict:
    """The pipeline's own settings next to the trainer's, so the manifest carries all of them."""
    from being_h0_train.posttrain.tasks import task_instructions

    tjson = final / "training.json"
    training = json.loads(tjson.read_text()) if tjson.exists() else {}
    training["pipeline"] = {"command": "make train-default", "recipe": a.recipe,
                            "tasks": list(a.task_counts), "demos_requested": a.task_counts, "demos_kept": kept,
                            "episodes": sum(a.task_counts.values()), "instructions": a.instructions,
                            "task_instructions": task_instructions(a.task_counts),
                            "demo_seed_base": a.demo_seed_base, "demo_variation": a.demo_variation, "steps": a.steps,
                            "batch_size": a.batch_size, "lr": a.lr, "train_mode": a.train_mode, "seed": a.seed,
                            "threads": a.threads, "backbone": a.backbone, "augment": a.augment, "jobs": a.jobs,
                            "warmup_samples": a.warmup_samples, "warmup_steps": a.warmup_steps,
                            "warmup_seen_fraction": a.warmup_seen_fraction,
                            "warmup_seen_first_steps": a.warmup_seen_first_steps,
                            "vision_lr_scale": a.vision_lr_scale,
                            "timings_s": {k: round(v, 1) for k, v in timings.items()}}
    tjson.write_text(json.dumps(training, indent=2, default=str))
    return training


def export_engine(final: Path, engine_dir: Path, data: Path, training: dict, timings: dict[str, float]) -> None:
    """Stage 5: the ONNX engine folder, its parity report and the image-use check on held-out episodes."""
    t = time.monotonic()
    print(f"\n=== 5/6 exporting the ONNX engine to {engine_dir} ===", flush=True)
    from being_h0_train.export.engine_dir import ExportOptions, build_engine

    build_engine(final, engine_dir, ExportOptions(engine_name=engine_dir.name, force=True,
                                                  notes=["built by make train-default"]))
    timings["export_engine_s"] = time.monotonic() - t
    parity = json.loads((engine_dir / "parity_report.json").read_text())
    print(json.dumps(parity, indent=1)[:800], flush=True)
    val_ids = training.get("val_episodes") or []
    if val_ids:
        use = image_use(engine_dir, data, val_ids)
        print(f"image use on {use['episodes']} held-out episode starts: prediction spread / data spread = "
              f"{use['ratio']:.2f} ({use['pred_std_rad']:.3f} vs {use['data_std_rad']:.3f} rad)"
              + ("  -- LOW: the engine barely reads the camera" if use["ratio"] < 0.3 else ""), flush=True)
        (engine_dir / "image_use.json").write_text(json.dumps(use, indent=2))


def bench_cells(tasks: Sequence[str], variations: Sequence[str]) -> list[str]:
    """TASK:VARIATION for every task and each of its variations (task file) that `variations` lists."""
    from being_h0_runtime.bench.tasks import load_task

    return [f"{t}:{v}" for t in tasks for v in load_task(t).variations if v in variations]


def benchmark(a: argparse.Namespace, work: Path, engine_dir: Path, timings: dict[str, float]) -> None:
    """Stage 6: success-rate trials on the virtual rig (``being-h0 bench run``), report beside the engine."""
    if a.trials <= 0:
        return
    cells = bench_cells(list(a.task_counts), [v for v in a.variations.split(",") if v])
    t = time.monotonic()
    print(f"\n=== 6/6 benchmark: {a.trials} trials of each of {', '.join(cells)} ===", flush=True)
    results = work / "bench.sqlite"
    code = being_h0("bench", "run", "--tasks", *cells, "--engine", str(engine_dir), "--trials", str(a.trials),
                    "--results", str(results), "--out", str(work / "bench_out"), "--frames", "0")
    if code:
        print(f"benchmark exited with {code}", flush=True)
    being_h0("bench", "report", "--results", str(results), "--out", str(engine_dir / "bench"))
    timings["bench_s"] = time.monotonic() - t


def main(argv: Sequence[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    os.environ.setdefault("MUJOCO_GL", "egl")
    t_start = time.monotonic()
    timings: dict[str, float] = {}
    try:
        resolve(a)
        work, engine_dir = Path(a.work), Path(a.engine_dir)
        if a.fresh and work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
        data, kept = record_and_export(a.task_counts, a.demo_seed_base, a.jobs, work, timings, a.demo_variation)
        backbone = vision_warm_up(a, work, data, timings)
        final = post_train(a, work, data, backbone, timings)
        training = record_settings(a, final, kept, timings)
        export_engine(final, engine_dir, data, training, timings)
        benchmark(a, work, engine_dir, timings)
    except StageFailed as failed:
        print(f"error: {failed}", file=sys.stderr, flush=True)
        return failed.code
    print(f"\ndone in {(time.monotonic() - t_start) / 60:.1f} min: engine in {engine_dir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
