"""Stages of the data-efficiency study: start backbone, hand-motion pretraining, and per cell post-train,
export, bench.

Each stage lives in its own folder with a stage.json of the settings it was made with
(`recipes.reuse_or_claim`): a finished stage is reused, a half-done one resumes from its checkpoints,
one made with other settings is refused.  Every fingerprint carries the fingerprints of what the stage
was built from, so a cell can never silently start from another pretraining.

Where the post-training backbone comes from, per arm:

    without:  start backbone ------------------------------------------> post-train on the subset
    with:     start backbone -> hand-motion instruction tuning (vla/) --> post-train on the subset

The start backbone is the vision warm-up (`make train-default` stage 3, perception.py: the stand-in
for Being-H0's pretrained InternVL), or a randomly initialised preset with --warmup none.  Both arms
start from the same weights, so the arms differ only by the pretraining.  Pretraining and
post-training use the same class (`BeingH0Model`): the instruction-tuned checkpoint *is* a backbone
directory, every weight carries over (vision tower, projector, language model, embeddings); the
motion-token rows of the embedding and the LM head are simply unused by the action queries.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

from ..common import replace_dir
from .dataeff_data import TaskEpisodes
from .demos import being_h0
from .recipes import StageFailed, reuse_or_claim

PRETRAIN_DONE = "pretrain.json"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def start_backbone(a: argparse.Namespace, work: Path, data: Path, task: str) -> tuple[str, dict]:
    """The backbone both arms start from and its fingerprint: a preset, a finished warm-up folder, or one
    warmed up here (--warmup run, on rendered layouts of `task`'s scene posed like `data`'s demos)."""
    if a.warmup == "none":
        # saved once, so both arms start from the very same random weights (the vla trainer and the
        # post-trainer would each seed a preset their own way)
        start, fp = work / "start_backbone", {"preset": a.backbone, "init_seed": 0}
        if not reuse_or_claim(start, fp, (start / "backbone").is_dir()):
            from being_h0_runtime.policy.models.vla import build_being_h0

            with replace_dir(start / "backbone") as tmp:  # written whole, then renamed
                build_being_h0(a.backbone, seed=0).save_pretrained(tmp)
        return str(start / "backbone"), fp
    if a.warmup != "run":
        warm = Path(a.warmup)
        if not (warm / "warmup.json").exists():
            raise StageFailed(f"--warmup {warm}: no finished vision warm-up there (warmup.json is written when "
                              "`make train-default` stage 3 finishes); pass --warmup run to warm up here, or "
                              "--warmup none to start from the random preset", 2)
        return str(warm), {"warmup": str(warm.resolve()), "warmup_json_sha256": _sha(warm / "warmup.json")}
    warm = work / "warmup"
    from being_h0_train.posttrain.perception import WarmUpSettings, describe
    from being_h0_train.posttrain.perception import run as warm_up

    s = WarmUpSettings(samples=a.warmup_samples, steps=a.warmup_steps, seed=a.seed, jobs=a.jobs,
                       save_every=a.save_every, variation=a.warmup_variation)
    fp = {"warmup": "run", "backbone": a.backbone, "task": task, "samples": s.samples, "steps": s.steps,
          "seed": s.seed, "variation": s.variation, "data": str(data.resolve())}
    if reuse_or_claim(warm, fp, (warm / "warmup.json").exists()):
        print(f"reusing {warm}", flush=True)
        return str(warm), fp
    print(f"\n=== vision warm-up: {s.samples} rendered {task} layouts, {s.steps} steps ===", flush=True)
    _threads(a)
    m = warm_up(data, warm, a.backbone, s, tasks=[task])
    if "interrupted" in m:
        raise StageFailed(f"vision warm-up stopped by signal {m['interrupted']}; run the same command again to "
                          "resume", int(m["exit_code"]))
    print(f"held-out position error, median: {describe(m)}", flush=True)
    return str(warm), fp


def pretrain(a: argparse.Namespace, work: Path, start: str, start_fp: dict) -> tuple[str, dict]:
    """Physical instruction tuning (vla/train.py) on generated hand-motion clips, once for every "with" cell.

    Data: `--pretrain-clips` synthetic MANO clips (motion/synthetic.py: an object, an instruction such as
    "grasp the red ball", the hand's wrist path and finger synergies, rendered frames), windows of 32
    frames tokenised by a GRQ motion tokenizer trained on those clips; the three Being-H0 tasks (motion
    generation, motion -> text, motion continuation).  The vision tower stays frozen (vla default), so
    the warm-up's layout reading is kept; projector, language model and embeddings learn.
    Resumes from its checkpoint (every --save-every steps).  Returns (backbone dir, fingerprint).
    """
    out = work / "pretrain"
    fp = {"start": start_fp, "clips": a.pretrain_clips, "steps": a.pretrain_steps, "batch": a.pretrain_batch,
          "lr": a.pretrain_lr, "tokenizer_steps": a.pretrain_tokenizer_steps, "window": 32, "seed": a.seed,
          "train_vision": False}
    if reuse_or_claim(out, fp, (out / PRETRAIN_DONE).exists()):
        print(f"reusing {out}", flush=True)
        return str(out / "checkpoint"), fp
    print(f"\n=== hand-motion pretraining: {a.pretrain_clips} generated MANO clips, {a.pretrain_steps} steps, "
          f"batch {a.pretrain_batch} ===", flush=True)
    _threads(a)
    from being_h0_train.vla.train import TrainConfig, train

    is_dir = Path(start).is_dir()
    cfg = TrainConfig(preset=a.backbone, model_dir=start if is_dir else None,
                      synthetic=a.pretrain_clips, window=32, steps=a.pretrain_steps, batch=a.pretrain_batch,
                      lr=a.pretrain_lr, warmup=max(1, a.pretrain_steps // 20), out=str(out),
                      resume=(out / "checkpoint" / "trainer_state.json").exists(),
                      ckpt_every=min(a.save_every, max(1, a.pretrain_steps // 4)),
                      log_every=max(1, a.pretrain_steps // 10), eval_samples=a.pretrain_eval_samples, seed=a.seed,
                      tokenizer_steps=a.pretrain_tokenizer_steps, progress=True)
    t = time.monotonic()
    summary = train(cfg)
    if summary.get("stopped_at") is not None:
        sig = int(summary["signal"] or 0)
        raise StageFailed(f"hand-motion pretraining stopped at step {summary['stopped_at']} (signal {sig}); "
                          "run the same command again to resume", 128 + sig)
    losses = summary["losses"]
    done = {"settings": fp, "seconds": round(time.monotonic() - t, 1), "start_step": summary["start_step"],
            "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
            "eval": summary.get("eval")}
    tmp = out / (PRETRAIN_DONE + ".tmp")
    tmp.write_text(json.dumps(done, indent=2, default=str))
    tmp.replace(out / PRETRAIN_DONE)
    return str(out / "checkpoint"), fp


def post_train(a: argparse.Namespace, cell: Path, subset: Path, eps: TaskEpisodes, n: int, backbone: str,
               backbone_fp: dict) -> Path:
    """One cell's post-training on its subset (all of it: no held-out split, so subsets stay nested)."""
    post = cell / "posttrain"
    final = post / "final"
    fp = {"data": {**eps.fingerprint(), "first": n}, "backbone": backbone_fp,
          **{k: getattr(a, k) for k in ("train_mode", "steps", "batch_size", "lr", "vision_lr_scale", "seed",
                                        "augment", "instructions")}}
    if reuse_or_claim(post, fp, (final / "posttrain_config.json").exists()):
        print(f"reusing {final}", flush=True)
        return final
    _threads(a)
    from being_h0_train.posttrain.train import main as train_main

    args = ["--data", str(subset), "--backbone", backbone, "--train-mode", a.train_mode, "--steps", str(a.steps),
            "--batch-size", str(a.batch_size), "--lr", str(a.lr), "--vision-lr-scale", str(a.vision_lr_scale),
            "--seed", str(a.seed), "--out", str(post), "--eval-every", "0", "--val-fraction", "0",
            "--save-every", str(min(a.save_every, max(a.steps // 4, 1)))]
    args += {"none": ["--no-augment"], "color": ["--no-crop"], "crop+color": []}[a.augment]
    if a.instructions == "paraphrases":
        if not (subset / "instructions.json").exists():
            raise StageFailed(f"--instructions paraphrases: {eps.dataset} has no instructions.json", 2)
        args += ["--instructions", str(subset / "instructions.json")]
    if (post / "checkpoints").exists():
        args.append("--resume")
    code = train_main(args)
    if code:
        raise StageFailed(f"post-training {cell.name} exited {code}"
                          + ("; run the same command again to resume" if code > 128 else ""), int(code))
    return final


def export(final: Path, engine: Path, name: str) -> Path:
    """The cell's ONNX engine; redone when missing or older than the model it comes from."""
    manifest = engine / "manifest.json"
    if manifest.exists() and manifest.stat().st_mtime >= (final / "posttrain_config.json").stat().st_mtime:
        return engine
    from being_h0_train.export.engine_dir import ExportOptions, build_engine

    build_engine(final, engine, ExportOptions(engine_name=name, force=True, backends=("onnxruntime",),
                                              notes=["built by being_h0_train.pipeline.data_efficiency"]))
    return engine


def bench(a: argparse.Namespace, cell: Path, engine: Path, task: str) -> tuple[int, int]:
    """`being-h0 bench run` of the cell's engine on `task:variation`, trials base_seed.. ; returns (k, n).

    Resumable per trial (the bench skips trials already in its results file); the folder is refused when
    the engine or the trial settings changed.
    """
    from being_h0_runtime.bench.engines import resolve_engine

    folder = cell / "bench"
    sha = resolve_engine(str(engine)).sha256  # the bench's own engine identity (manifest minus execution advice)
    fp = {"engine_manifest_sha256": sha, "task": task, "variation": a.variation, "trials": a.trials,
          "base_seed": a.base_seed, "time_limit": a.time_limit}
    result = folder / "result.json"
    if reuse_or_claim(folder, fp, result.exists()):
        r = json.loads(result.read_text())
        return int(r["successes"]), int(r["trials"])
    args = ["bench", "run", "--tasks", f"{task}:{a.variation}", "--engine", str(engine), "--trials", str(a.trials),
            "--base-seed", str(a.base_seed), "--results", str(folder / "bench.sqlite"), "--out",
            str(folder / "out"), "--frames", "0", "--console", "off", "--backend", "onnxruntime"]
    if a.time_limit:
        args += ["--time-limit", str(a.time_limit)]
    code = being_h0(*args)
    k, n = count_successes(folder / "bench.sqlite", sha, task, a.variation, a.base_seed, a.trials)
    if n < a.trials:
        raise StageFailed(f"bench of {cell.name} finished {n}/{a.trials} trials (being-h0 bench exited {code}); "
                          "run the same command again to resume it")
    tmp = folder / "result.json.tmp"
    tmp.write_text(json.dumps({"successes": k, "trials": n, **fp}, indent=2))
    tmp.replace(result)
    return k, n


def count_successes(results: Path, engine_sha: str, task: str, variation: str, base_seed: int,
                    trials: int) -> tuple[int, int]:
    """Successes and finished trials of one engine on seeds base_seed .. base_seed + trials - 1."""
    from being_h0_runtime.bench.results import load_results

    if not results.exists():
        return 0, 0
    rows = [r for r in load_results(results) if r["engine_sha256"] == engine_sha and r["task"] == task
            and r["variation"] == variation and base_seed <= int(r["seed"]) < base_seed + trials]
    return sum(bool(r["success"]) for r in rows), len(rows)


def _threads(a: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(a.threads)
