"""Post-training checkpoints: <out>/checkpoints/step_NNNNNNN/, each written whole under a temporary name.

trainable.safetensors (trainable weights + normalisation), optimizer.pt, rng.pt (torch's generator)
and trainer_state.json (step + run metadata).  The data order and learning rate are functions of
(seed, step), so the step is their position: a run resumed from here continues bit for bit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from being_h0_runtime.policy.models.posttrain import PostTrainModel

from ..common import prune_dirs, replace_dir

#: checkpoints kept in <out>/checkpoints (older ones are removed as new ones land)
KEEP_CHECKPOINTS = 2


def latest_checkpoint(out: Path) -> Path | None:
    cks = sorted((out / "checkpoints").glob("step_*")) if (out / "checkpoints").is_dir() else []
    cks = [c for c in cks if (c / "trainer_state.json").exists()]
    return cks[-1] if cks else None


def save_checkpoint(out: Path, step: int, model: PostTrainModel, opt: torch.optim.Optimizer, extra: dict[str, Any]) -> Path:
    """Trainable weights, optimizer, torch RNG and step under checkpoints/step_N (written whole, then renamed).

    The data order and the learning rate are functions of (seed, step), so the step is their position.
    """
    d = out / "checkpoints" / f"step_{step:07d}"
    with replace_dir(d) as tmp:  # a crash mid-save never leaves a half checkpoint under the final name
        save_file(model.trainable_state_dict(), str(tmp / "trainable.safetensors"))
        torch.save(opt.state_dict(), tmp / "optimizer.pt")
        torch.save({"torch": torch.get_rng_state()}, tmp / "rng.pt")
        (tmp / "trainer_state.json").write_text(json.dumps({"step": step, **extra}, indent=2, default=str))
    prune_dirs(out / "checkpoints", "step_*", KEEP_CHECKPOINTS)
    return d


def load_checkpoint(ck: Path, model: PostTrainModel, opt: torch.optim.Optimizer, device: str) -> int:
    """Restore what `save_checkpoint` wrote; returns the step to continue from."""
    model.load_trainable_state_dict(load_file(str(ck / "trainable.safetensors")))
    opt.load_state_dict(torch.load(ck / "optimizer.pt", map_location=device))
    if (ck / "rng.pt").exists():  # checkpoints from before it was saved: nothing random runs in the step
        torch.set_rng_state(torch.load(ck / "rng.pt")["torch"])
    return int(json.loads((ck / "trainer_state.json").read_text())["step"])
