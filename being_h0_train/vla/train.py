"""Physical instruction tuning of Being-H0 (pretraining on hand motion).

Runs on one CPU for tests and scales with ``torchrun`` + FSDP2
(``fully_shard`` per decoder/vision layer; gloo on CPU, NCCL on GPU).

Examples::

    # CPU smoke run: tiny backbone, generated clips, tiny motion tokenizer trained on the fly
    python -m being_h0_train.vla.train --preset tiny --synthetic 32 --steps 50 --out runs/vla

    # two CPU processes with FSDP over gloo
    torchrun --standalone --nproc_per_node=2 -m being_h0_train.vla.train --preset tiny --synthetic 32 --steps 20 --out runs/vla2

    # GPU cluster: real InternVL3-8B checkpoint, trained GRQ tokenizer, bf16, gradient checkpointing
    torchrun --nproc_per_node=8 -m being_h0_train.vla.train --model-dir /ckpt/InternVL3-8B-hf \\
        --motion-tokenizer runs/tok_full/checkpoint --data-dir clips/ --precision bf16 --grad-ckpt \\
        --batch 4 --steps 20000 --out runs/being_h0_8b

    # resume (same or different number of processes)
    ... --out runs/vla --resume

Outputs in ``--out``: ``checkpoint/`` (a ``BeingH0Model`` directory +
``optimizer.pt`` + ``trainer_state.json``; atomic replace), ``log.jsonl``
(one JSON line per log step), ``eval.json`` (valid rate, MPJPE, PA-MPJPE,
MWTE of instructional motion generation on held-out windows), and
``motion_tokenizer/`` when the tokenizer was trained on the fly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from being_h0_runtime.policy.models.vla import BeingH0Model, build_being_h0
from being_h0_runtime.policy.models.vla_config import BeingH0Config

from ..common import cosine_lr, replace_dir
from ..common.stop import GracefulStop
from ..motion.clip import list_clips, load_clip
from ..motion.synthetic import SyntheticConfig, generate_clip
from ..tokenizer.model import GRQConfig, MotionTokenizer
from ..tokenizer.train import train_tokenizer
from .data import SampleBuilder, TaskMixture, collate_train, prepare_motion_samples
from .evaluate import evaluate_generation
from .templates import TASKS


@dataclass
class TrainConfig:
    preset: str = "tiny"
    model_dir: str | None = None
    motion_tokenizer: str | None = None
    data_dir: str | None = None
    synthetic: int = 32
    window: int = 32
    steps: int = 50
    batch: int = 4
    lr: float = 1e-3
    warmup: int = 10
    weight_decay: float = 0.0
    precision: str = "fp32"
    grad_ckpt: bool = False
    train_vision: bool = False
    tasks: tuple[str, ...] = TASKS
    out: str | None = None
    resume: bool = False
    ckpt_every: int = 0
    log_every: int = 5
    eval_samples: int = 8
    seed: int = 0
    tokenizer_steps: int = 150
    #: a progress bar over the steps on rank 0 (pipelines); the log lines are printed either way
    progress: bool = False


def _dist_setup() -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    rank = dist.get_rank() if dist.is_initialized() else 0
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def _log(rank: int, msg: str) -> None:
    if rank == 0:
        print(msg, flush=True)


def load_clips(cfg: TrainConfig) -> list:
    if cfg.data_dir:
        return [load_clip(p) for p in list_clips(cfg.data_dir)]
    rng = np.random.default_rng(cfg.seed)
    sc = SyntheticConfig(num_frames=max(cfg.window, 32))
    return [generate_clip(rng, sc) for _ in range(cfg.synthetic)]


def get_motion_tokenizer(cfg: TrainConfig, clips: list, rank: int) -> MotionTokenizer:
    if cfg.motion_tokenizer:
        return MotionTokenizer.load(cfg.motion_tokenizer)
    out = Path(cfg.out) / "motion_tokenizer" if cfg.out else None
    if out is not None and (out / "tokenizer_config.json").exists():
        return MotionTokenizer.load(out)
    if rank == 0:
        _log(rank, f"no --motion-tokenizer: training a tiny GRQ tokenizer for {cfg.tokenizer_steps} steps")
        tok, _ = train_tokenizer(GRQConfig.preset("tiny"), clips, None, cfg.tokenizer_steps, batch=8,
                                 window=min(cfg.window, 32), seed=cfg.seed, progress=False)
        if out is not None:
            tok.save(out)
    _barrier()
    if rank != 0:
        if out is None:
            raise ValueError("multi-process runs without --motion-tokenizer need --out to share the tokenizer")
        tok = MotionTokenizer.load(out)
    return tok.eval()


def _shard(model: BeingH0Model, world: int) -> torch.nn.Module:
    if world <= 1:
        return model
    from torch.distributed.fsdp import fully_shard

    for layer in model.language_model.layers:
        fully_shard(layer)
    for layer in model.vision_tower.encoder.layer:
        fully_shard(layer)
    fully_shard(model)
    return model


def _full_state(model: torch.nn.Module, opt: torch.optim.Optimizer | None, world: int) -> tuple[dict, dict | None]:
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    o = StateDictOptions(full_state_dict=True, cpu_offload=world > 1)
    msd = get_model_state_dict(model, options=o)
    osd = get_optimizer_state_dict(model, opt, options=o) if opt is not None else None
    return msd, osd


def save_checkpoint(out: Path, model: BeingH0Model, opt: torch.optim.Optimizer, step: int, world: int, rank: int,
                    cfg: TrainConfig) -> None:
    msd, osd = _full_state(model, opt, world)
    if rank == 0:
        sd = {k[len("internvl."):]: v for k, v in msd.items() if k.startswith("internvl.")}
        with replace_dir(out / "checkpoint") as tmp:
            model.internvl.save_pretrained(str(tmp), state_dict=sd)
            model.tokenizer.save_pretrained(str(tmp))
            model.config.save(tmp)
            (tmp / "being_h0_token_map.json").write_text(model.token_map.to_json())
            torch.save(osd, tmp / "optimizer.pt")
            (tmp / "trainer_state.json").write_text(
                json.dumps({"step": step, "world_size": world, "config": asdict(cfg)}, indent=2))
    _barrier()


def _stop_agreed(stop: GracefulStop, device: torch.device) -> bool:
    """Whether to stop after this step; with several processes, when any of them was signalled, all stop
    together (a checkpoint is a collective operation)."""
    if not dist.is_initialized():
        return stop.requested
    flag = torch.tensor([1.0 if stop.requested else 0.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def _set_trainable(model: BeingH0Model, train_vision: bool) -> None:
    for p in model.vision_tower.parameters():
        p.requires_grad_(train_vision)


def _load_model(cfg: TrainConfig, ck: Path | None, num_motion_tokens: int) -> tuple[BeingH0Model, int]:
    """The model to train and the step to start from: a resumed checkpoint, a given model or a fresh preset."""
    start_step = 0
    if cfg.resume:
        if ck is None or not (ck / "trainer_state.json").exists():
            raise FileNotFoundError(f"--resume: no checkpoint under {ck.parent if ck else None}")
        model = BeingH0Model.from_pretrained(ck)
        start_step = json.loads((ck / "trainer_state.json").read_text())["step"]
    elif cfg.model_dir:
        model = BeingH0Model.from_pretrained(cfg.model_dir, num_motion_tokens=num_motion_tokens)
    else:
        model = build_being_h0(BeingH0Config.preset(cfg.preset, num_motion_tokens=num_motion_tokens), seed=cfg.seed)
    if model.token_map.num_motion_tokens != num_motion_tokens:
        raise ValueError(f"model has {model.token_map.num_motion_tokens} motion tokens, motion tokenizer "
                         f"{num_motion_tokens}; set BeingH0Config.num_motion_tokens accordingly")
    return model, start_step


def _evaluate(model: BeingH0Model, motion_tok: MotionTokenizer, eval_samples: list, out: Path | None, world: int,
              device: torch.device) -> dict[str, Any]:
    """Generation metrics on the held-out windows (from the saved full copy when the model was sharded)."""
    eval_model = BeingH0Model.from_pretrained(out / "checkpoint") if (out and world > 1) else model
    eval_model.to(device).eval()
    result = evaluate_generation(eval_model, motion_tok, eval_samples)
    _log(0, "eval: " + json.dumps(result))
    if out:
        # a metric with no sample is NaN, which JSON has no word for: write null
        finite = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in result.items()}
        (out / "eval.json").write_text(json.dumps(finite, indent=2))
    return result


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run physical instruction tuning; returns a summary (losses, eval) on rank 0."""
    # Longer than 60 lines on purpose: one training loop, read top to bottom; its steps share the model,
    # optimizer, data and schedule state, and splitting it would scatter that order over several functions.
    if cfg.precision not in ("fp32", "bf16"):
        raise ValueError(f"--precision must be fp32 or bf16, got {cfg.precision}")
    rank, world, device = _dist_setup()
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out) if cfg.out else None
    if out is not None and rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    clips = load_clips(cfg)
    n_eval = max(1, len(clips) // 8) if len(clips) > 2 else 0
    motion_tok = get_motion_tokenizer(cfg, clips[n_eval:] or clips, rank)
    ck = out / "checkpoint" if out else None
    model, start_step = _load_model(cfg, ck, motion_tok.cfg.num_token_ids)
    model.to(device)
    _set_trainable(model, cfg.train_vision)
    if cfg.grad_ckpt:
        model.gradient_checkpointing_enable()
    model.train()
    # ---- data
    samples = prepare_motion_samples(clips[n_eval:] or clips, motion_tok, cfg.window)
    eval_samples = prepare_motion_samples(clips[:n_eval], motion_tok, cfg.window)[: cfg.eval_samples] if n_eval else []
    builder = SampleBuilder(model, motion_tok.cfg.tokens_per_step)
    mixture = TaskMixture(builder, samples, cfg.tasks, seed=cfg.seed + start_step, rank=rank, world=world)
    sharded = _shard(model, world)
    params = [p for p in sharded.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    if cfg.resume:
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_optimizer_state_dict,
        )

        osd = torch.load(ck / "optimizer.pt", weights_only=False) if (rank == 0 or world == 1) else {}
        set_optimizer_state_dict(sharded, opt, osd, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=world > 1))

    def lr_at(s: int) -> float:
        return cosine_lr(s, cfg.lr, cfg.steps, warmup_steps=cfg.warmup, floor=0.1)

    def amp():  # bf16 autocast: matmuls in bf16, master weights and optimizer state stay fp32
        return torch.autocast(device.type, dtype=torch.bfloat16) if cfg.precision == "bf16" else nullcontext()
    n_params = sum(p.numel() for p in model.parameters())
    _log(rank, f"Being-H0 {model.config.name}: {n_params / 1e6:.2f}M params, {len(samples)} train windows, "
               f"{len(eval_samples)} eval windows, world={world}, device={device}, precision={cfg.precision}")
    log_f = open(out / "log.jsonl", "a") if (out and rank == 0) else None
    losses: list[float] = []
    t0 = time.time()
    tokens = 0
    bar = None
    if cfg.progress and rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=start_step, desc="hand-motion pretraining")
    stopped_at = None
    with GracefulStop() as stop:  # SIGINT/SIGTERM: finish the step, save a checkpoint there, return
        for step in range(start_step, cfg.steps):
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            batch = collate_train(mixture.batch(cfg.batch), model.token_map.pad_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            with amp():
                res = sharded(batch["input_ids"], batch["pixel_values"], batch["attention_mask"], batch["labels"])
            loss = res.loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            lv = loss.detach().float()
            if dist.is_initialized():
                dist.all_reduce(lv)
                lv /= world
            losses.append(float(lv))
            tokens += int(batch["attention_mask"].sum()) * world
            if rank == 0 and (step % cfg.log_every == 0 or step == cfg.steps - 1):
                el = time.time() - t0
                rec = {"step": step + 1, "loss": round(float(lv), 4), "lr": lr_at(step), "grad_norm": round(float(gn), 3),
                       "tokens_per_s": round(tokens / max(el, 1e-9), 1), "elapsed_s": round(el, 1)}
                print(f"step {step + 1:>6}/{cfg.steps} | loss {rec['loss']:.4f} | lr {rec['lr']:.2e} | "
                      f"gnorm {rec['grad_norm']:.2f} | {rec['tokens_per_s']:.0f} tok/s | {el:.1f}s", flush=True)
                if log_f:
                    log_f.write(json.dumps(rec) + "\n")
                    log_f.flush()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(lv):.3f}")
            if out and cfg.ckpt_every and (step + 1) % cfg.ckpt_every == 0 and step + 1 < cfg.steps:
                save_checkpoint(out, model, opt, step + 1, world, rank, cfg)
            if _stop_agreed(stop, device):
                stopped_at = step + 1
                break
    if bar is not None:
        bar.close()
    summary: dict[str, Any] = {"losses": losses, "start_step": start_step, "steps": cfg.steps, "world_size": world}
    if stopped_at is not None:
        # stopped by a signal: a checkpoint at the exact step, so a re-run with --resume continues from there
        if out:
            save_checkpoint(out, model, opt, stopped_at, world, rank, cfg)
        if log_f:
            log_f.close()
        _barrier()
        return {**summary, "stopped_at": stopped_at, "signal": stop.signal}
    if out:
        save_checkpoint(out, model, opt, cfg.steps, world, rank, cfg)
    if rank == 0 and eval_samples and (world == 1 or out is not None):  # sharded models need the saved full copy
        summary["eval"] = _evaluate(model, motion_tok, eval_samples, out, world, device)
    if log_f:
        log_f.close()
    _barrier()
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m being_h0_train.vla.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    m = ap.add_argument_group("model")
    m.add_argument("--preset", default="tiny", help="backbone preset when no --model-dir: tiny, internvl3-1b, internvl3-8b, internvl3-14b, internvl3-38b")
    m.add_argument("--model-dir", help="local Being-H0 or InternVL3 '-hf' checkpoint directory to start from")
    m.add_argument("--motion-tokenizer", help="GRQ tokenizer checkpoint dir (default: train a tiny one on the data)")
    m.add_argument("--tokenizer-steps", type=int, default=150, help="steps for the on-the-fly tiny motion tokenizer")
    m.add_argument("--train-vision", action="store_true", help="also train the vision tower (default: frozen)")
    d = ap.add_argument_group("data")
    d.add_argument("--data-dir", help="canonical clips with frames (*.npz + *.json); default: generated clips")
    d.add_argument("--synthetic", type=int, default=32, help="number of generated clips without --data-dir")
    d.add_argument("--window", type=int, default=32, help="frames per motion window (multiple of tokenizer downsample)")
    d.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS), help="task templates to mix")
    t = ap.add_argument_group("optimisation")
    t.add_argument("--steps", type=int, default=50)
    t.add_argument("--batch", type=int, default=4, help="samples per process per step")
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--warmup", type=int, default=10)
    t.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="bf16 autocast (mixed precision)")
    t.add_argument("--grad-ckpt", action="store_true", help="gradient checkpointing in the LLM and vision layers")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads per process (0: leave default)")
    o = ap.add_argument_group("output")
    o.add_argument("--out", help="run directory (checkpoint/, log.jsonl, eval.json)")
    o.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint")
    o.add_argument("--ckpt-every", type=int, default=0, help="checkpoint every N steps (always at the end)")
    o.add_argument("--log-every", type=int, default=5)
    o.add_argument("--eval-samples", type=int, default=8, help="held-out windows for generation eval (0: skip)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = TrainConfig(preset=a.preset, model_dir=a.model_dir, motion_tokenizer=a.motion_tokenizer, data_dir=a.data_dir,
                      synthetic=a.synthetic, window=a.window, steps=a.steps, batch=a.batch, lr=a.lr, warmup=a.warmup,
                      precision=a.precision, grad_ckpt=a.grad_ckpt, train_vision=a.train_vision, tasks=tuple(a.tasks),
                      out=a.out, resume=a.resume, ckpt_every=a.ckpt_every, log_every=a.log_every,
                      eval_samples=a.eval_samples, seed=a.seed, tokenizer_steps=a.tokenizer_steps)
    summary = train(cfg)
    if dist.is_initialized():
        dist.destroy_process_group()
    if summary.get("stopped_at") is not None:
        print(f"stopped at step {summary['stopped_at']} (signal {summary['signal']}); checkpoint saved: "
              f"run the same command with --resume to continue", file=sys.stderr)
        return 128 + int(summary["signal"] or 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
