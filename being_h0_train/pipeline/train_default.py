"""`make train-default`: the closed loop that produces the virtual rig's default engine.

    record demos (scripted operator, real recording path)  ->  export dataset
      ->  vision warm-up on rendered scene layouts          (perception.py: the stand-in for a pretrained ViT)
      ->  post-train a tiny Being-H0-architecture model     ->  ONNX engine directory (+ parity report)
      ->  success-rate benchmark on the virtual rig         ->  report beside the engine

Every setting and seed lands in the engine manifest ("training" -> "pipeline").
Runs on a 2-core CPU; each stage shows progress.  Stages whose outputs exist
are reused, so an interrupted run resumes (pass --fresh to start over).

Examples:
  python -m being_h0_train.pipeline.train_default                       # the shipped engine's recipe
  python -m being_h0_train.pipeline.train_default --episodes 20 --steps 300 --trials 5 \\
      --work runs/quick --engine-dir runs/quick/engine                  # a quick smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ENGINE = REPO / "models" / "being-h0-sim-small"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="train-default", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=str(REPO / "runs" / "train_default"), help="scratch directory for all stages")
    ap.add_argument("--engine-dir", default=str(DEFAULT_ENGINE), help="where the engine directory is written")
    ap.add_argument("--episodes", type=int, default=460,
                    help="demonstrations to record (each is one scene layout; ~1.3 s each with 2 jobs)")
    ap.add_argument("--demo-seed-base", type=int, default=1000, help="demo i uses scene seed base + i "
                    "(benchmark trials use seeds from 0, so demos and trials never share a scene)")
    ap.add_argument("--jobs", type=int, default=max(1, os.cpu_count() or 1),
                    help="processes for recording and rendering (the virtual rig is CPU-bound)")
    ap.add_argument("--warmup-samples", type=int, default=16000,
                    help="rendered layouts for the vision warm-up (0: skip the warm-up)")
    ap.add_argument("--warmup-steps", type=int, default=3000, help="vision warm-up steps (batch 32)")
    ap.add_argument("--backbone", default="sim-small", help="backbone preset (being_h0_runtime.policy.models.vla_config.PRESETS)")
    ap.add_argument("--steps", type=int, default=10000, help="post-training steps")
    ap.add_argument("--augment", default="none", choices=["none", "color", "crop+color"],
                    help="image augmentation; a fixed camera's pixels are table positions, so no crop by default")
    ap.add_argument("--vision-lr-scale", type=float, default=0.1,
                    help="post-training lr multiplier for the (warmed-up) vision tower")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--train-mode", default="full", choices=["frozen", "llm", "lora", "full"])
    ap.add_argument("--seed", type=int, default=0, help="training seed (init, split, batches, augmentation)")
    ap.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2)), help="torch CPU threads")
    ap.add_argument("--trials", type=int, default=20, help="benchmark trials per variation (0: skip)")
    ap.add_argument("--variations", default="seen,unseen,clutter", help="benchmark variations of pick_place_toy")
    ap.add_argument("--fresh", action="store_true", help="ignore outputs of an earlier run in --work")
    return ap


def image_use(engine_dir: Path, dataset: Path, episode_ids: Sequence[str], horizon: int = 15) -> dict[str, float]:
    """Does the engine look at the camera?  Ratio of prediction spread to data spread at episode starts.

    At the first frame of every held-out episode the arm is at home, so the
    proprio is the same everywhere and only the image tells layouts apart.
    The spread (std over episodes) of the predicted arm target `horizon` steps
    ahead, divided by the spread of the recorded one, is ~1 for an engine that
    reads the layout and ~0 for one that ignores the image (then it cannot
    reach the toy, whatever its open-loop loss says -- measured here once).
    """
    import numpy as np

    from being_h0_runtime.policy.engine import load_engine_policy
    from being_h0_runtime.policy.spec import Observation

    meta = json.loads((dataset / "meta.json").read_text())
    files = {e["episode_id"]: dataset / e["file"] for e in meta["episodes"]}
    policy = load_engine_policy(engine_dir, backend="onnxruntime")
    pred, true = [], []
    for eid in episode_ids:
        with np.load(files[eid]) as z:
            image, proprio, action, instr = z["images"][0], z["proprio"][0], z["action"], str(z["instruction"])
        obs = Observation(stamp=0.0, proprio=proprio, proprio_names=policy.spec.names, instruction=instr, image=image)
        pred.append(policy.infer(obs)[horizon, :7])
        true.append(action[min(horizon, len(action) - 1), :7])
    p_std, t_std = np.std(pred, axis=0), np.std(true, axis=0)
    return {"episodes": len(pred), "ratio": float(np.mean(p_std) / max(float(np.mean(t_std)), 1e-9)),
            "pred_std_rad": float(np.mean(p_std)), "data_std_rad": float(np.mean(t_std))}


class StageFailed(Exception):
    """A stage could not finish; ``code`` is the pipeline's exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def stage(name: str) -> float:
    print(f"\n=== {name} ===", flush=True)
    return time.monotonic()


def being_h0(*args: str) -> int:
    """Run a ``being-h0`` subcommand in a child process: the runtime's public command line, not its modules.

    Recording and benchmarking are runtime applications; training calls them the way a user
    does, so the training package imports only the runtime's model and dataset interfaces.
    """
    return subprocess.run([sys.executable, "-m", "being_h0_runtime.cli", *args], check=False).returncode


def record_demos(a: argparse.Namespace, work: Path, timings: dict[str, float]) -> Path:
    """Stages 1-2: demonstrations through the recorder node, exported to the post-training dataset."""
    demos, data = work / "demos", work / "dataset"
    t = stage(f"1/6 recording {a.episodes} demonstrations on the virtual rig (then 2/6: export to the dataset)")
    if not (data / "meta.json").exists():
        if demos.exists():
            shutil.rmtree(demos)
        code = being_h0("record", "--episodes", str(a.episodes), "--out", str(demos), "--seed-base",
                        str(a.demo_seed_base), "--jobs", str(a.jobs), "--console", "off",
                        "--export", str(data), "--control-rate", "10")
        if code or not (data / "meta.json").exists():
            raise StageFailed(f"recording the demonstrations failed (being-h0 record exited {code})")
    else:
        print(f"reusing {data}", flush=True)
    timings["record_s"] = time.monotonic() - t
    return data


def vision_warm_up(a: argparse.Namespace, work: Path, data: Path, timings: dict[str, float]) -> str:
    """Stage 3: the vision warm-up on rendered layouts; returns the backbone post-training starts from."""
    if a.warmup_samples <= 0:
        return a.backbone
    warm = work / "warmup"
    t = stage(f"3/6 vision warm-up: {a.warmup_samples} rendered layouts, {a.warmup_steps} steps")
    if not (warm / "warmup.json").exists():
        import torch

        torch.set_num_threads(a.threads)
        from being_h0_train.posttrain.perception import WarmUpSettings
        from being_h0_train.posttrain.perception import run as warm_up

        m = warm_up(data, warm, a.backbone, WarmUpSettings(samples=a.warmup_samples, steps=a.warmup_steps,
                                                           seed=a.seed, jobs=a.jobs))
    else:
        m = json.loads((warm / "warmup.json").read_text())["metrics"]
        print(f"reusing {warm}", flush=True)
    print(f"held-out toy position error: median {m['toy_cm_median']:.2f} cm (blind guess "
          f"{m['toy_cm_median_blind']:.2f} cm); box {m['box_cm_median']:.2f} cm", flush=True)
    timings["warmup_s"] = time.monotonic() - t
    return str(warm)


def post_train(a: argparse.Namespace, work: Path, data: Path, backbone: str, timings: dict[str, float]) -> Path:
    """Stage 4: post-training (resumed from its checkpoints); returns the final model directory."""
    post = work / "posttrain"
    t = stage(f"4/6 post-training ({a.train_mode}, {a.steps} steps, batch {a.batch_size})")
    final = post / "final"
    if not (final / "posttrain_config.json").exists():
        import torch

        torch.set_num_threads(a.threads)
        from being_h0_train.posttrain.train import main as train_main

        args = ["--data", str(data), "--backbone", backbone, "--train-mode", a.train_mode, "--steps", str(a.steps),
                "--batch-size", str(a.batch_size), "--lr", str(a.lr), "--vision-lr-scale", str(a.vision_lr_scale),
                "--seed", str(a.seed), "--out", str(post),
                "--eval-every", "0", "--save-every", str(max(a.steps // 4, 1))]
        args += {"none": ["--no-augment"], "color": ["--no-crop"], "crop+color": []}[a.augment]
        if (post / "checkpoints").exists():
            args.append("--resume")
        code = train_main(args)
        if code:
            raise StageFailed(f"post-training exited {code}", int(code))
    else:
        print(f"reusing {final}", flush=True)
    timings["posttrain_s"] = time.monotonic() - t
    return final


def record_settings(a: argparse.Namespace, final: Path, timings: dict[str, float]) -> dict:
    """The pipeline's own settings next to the trainer's, so the manifest carries all of them."""
    tjson = final / "training.json"
    training = json.loads(tjson.read_text()) if tjson.exists() else {}
    training["pipeline"] = {"command": "make train-default", "episodes": a.episodes,
                            "demo_seed_base": a.demo_seed_base, "steps": a.steps, "batch_size": a.batch_size,
                            "lr": a.lr, "train_mode": a.train_mode, "seed": a.seed, "threads": a.threads,
                            "backbone": a.backbone, "augment": a.augment, "jobs": a.jobs,
                            "warmup_samples": a.warmup_samples, "warmup_steps": a.warmup_steps,
                            "vision_lr_scale": a.vision_lr_scale,
                            "timings_s": {k: round(v, 1) for k, v in timings.items()}}
    tjson.write_text(json.dumps(training, indent=2, default=str))
    return training


def export_engine(final: Path, engine_dir: Path, data: Path, training: dict, timings: dict[str, float]) -> None:
    """Stage 5: the ONNX engine folder, its parity report and the image-use check on held-out episodes."""
    t = stage(f"5/6 exporting the ONNX engine to {engine_dir}")
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


def benchmark(a: argparse.Namespace, work: Path, engine_dir: Path, timings: dict[str, float]) -> None:
    """Stage 6: success-rate trials on the virtual rig (``being-h0 bench run``), report beside the engine."""
    if a.trials <= 0:
        return
    t = stage(f"6/6 benchmark: {a.trials} trials per variation")
    results = work / "bench.sqlite"
    tasks = [f"pick_place_toy:{v}" for v in a.variations.split(",") if v]
    code = being_h0("bench", "run", "--tasks", *tasks, "--engine", str(engine_dir), "--trials", str(a.trials),
                    "--results", str(results), "--out", str(work / "bench_out"), "--frames", "0")
    if code:
        print(f"benchmark exited with {code}", flush=True)
    being_h0("bench", "report", "--results", str(results), "--out", str(engine_dir / "bench"))
    timings["bench_s"] = time.monotonic() - t


def main(argv: Sequence[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    os.environ.setdefault("MUJOCO_GL", "egl")
    work, engine_dir = Path(a.work), Path(a.engine_dir)
    if a.fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    timings: dict[str, float] = {}
    try:
        data = record_demos(a, work, timings)
        backbone = vision_warm_up(a, work, data, timings)
        final = post_train(a, work, data, backbone, timings)
    except StageFailed as failed:
        print(f"error: {failed}", file=sys.stderr, flush=True)
        return failed.code
    training = record_settings(a, final, timings)
    export_engine(final, engine_dir, data, training, timings)
    benchmark(a, work, engine_dir, timings)
    print(f"\ndone in {(time.monotonic() - t_start) / 60:.1f} min: engine in {engine_dir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
