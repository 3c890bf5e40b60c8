"""Physical-instruction-tuning samples: clips -> motion tokens -> chat samples -> batches.

Pipeline: ``prepare_motion_samples`` cuts each clip into fixed windows,
encodes each window's MANO features with the GRQ motion tokenizer into motion
code ids, and keeps the first frame of the window as the observation image.
``SampleBuilder`` turns one motion sample into token ids + labels for one of
the three tasks (see ``templates``), with the image tiled InternVL-style
(``<img>`` + N_tiles x ``num_image_tokens`` ``<IMG_CONTEXT>`` + ``</img>``).
``collate_train`` right-pads for teacher forcing; ``collate_prompts``
left-pads prompts for batched generation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from being_h0_runtime.policy.models.vla import BeingH0Model
from being_h0_runtime.policy.models.vla_tokenizer import (
    IM_END,
    IMG_CONTEXT,
    IMG_END,
    IMG_START,
    motion_block_text,
)

from ..motion.clip import Clip
from ..motion.mano import ManoLayer, default_mano
from ..tokenizer.data import clip_features
from ..tokenizer.model import MotionTokenizer
from .image import image_to_pixel_values
from .templates import TASKS, build_conversation


@dataclass
class MotionSample:
    instruction: str
    image: np.ndarray  # (H, W, 3) uint8
    motion_codes: list[int]  # global motion code ids (0..num_token_ids-1), tokenizer order
    features: np.ndarray  # (T, D) ground-truth features of the window
    joints: np.ndarray  # (T, 21, 3) ground-truth joints
    betas: np.ndarray  # (10,)
    meta: dict = field(default_factory=dict)


def prepare_motion_samples(clips: list[Clip], motion_tok: MotionTokenizer, window: int,
                           mano: ManoLayer | None = None, stride: int | None = None) -> list[MotionSample]:
    """Windows of ``window`` frames (stride defaults to ``window``) -> MotionSample list."""
    mano = mano or default_mano()
    if window % motion_tok.cfg.downsample:
        raise ValueError(f"window {window} must be a multiple of the tokenizer downsample {motion_tok.cfg.downsample}")
    out = []
    for ci, c in enumerate(clips):
        if c.frames is None:
            raise ValueError(f"clip {ci} has no frames; instruction tuning needs the observation image")
        if not c.meta.instructions:
            raise ValueError(f"clip {ci} has no instructions")
        f, j = clip_features(c, motion_tok.layout, mano)
        starts = range(0, f.shape[0] - window + 1, stride or window)
        wins = [f[s:s + window] for s in starts]
        if not wins:
            continue
        ids = motion_tok.features_to_ids(torch.as_tensor(np.stack(wins), dtype=torch.float32))
        for k, s in enumerate(starts):
            out.append(MotionSample(c.meta.instructions[0], c.frames[s], ids[k].tolist(), wins[k], j[s:s + window],
                                    c.params.betas[0], {"clip": ci, "start": s}))
    return out


class SampleBuilder:
    """Token ids / labels / pixel values for one (sample, task)."""

    def __init__(self, model: BeingH0Model, tokens_per_step: int) -> None:
        self.tok = model.tokenizer
        self.tm = model.token_map
        self.cfg = model.config
        self.tokens_per_step = tokens_per_step

    def image(self, img: np.ndarray) -> tuple[torch.Tensor, str]:
        px = image_to_pixel_values(img, self.cfg.vision.image_size, self.cfg.max_dynamic_tiles, self.cfg.use_thumbnail)
        return px, IMG_START + IMG_CONTEXT * (px.shape[0] * self.cfg.num_image_tokens) + IMG_END

    def _ids(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def conversation(self, s: MotionSample, task: str, rng: np.random.Generator, image_text: str):
        codes = s.motion_codes
        if task == "motion_prediction":
            steps = len(codes) // self.tokens_per_step
            if steps < 2:
                raise ValueError("motion_prediction needs at least 2 token steps per window")
            k = int(rng.integers(1, steps)) * self.tokens_per_step
            return build_conversation(task, s.instruction, motion_block_text(codes[k:]), image_text, rng,
                                      history_text=motion_block_text(codes[:k]))
        return build_conversation(task, s.instruction, motion_block_text(codes), image_text, rng)

    def build(self, s: MotionSample, task: str, rng: np.random.Generator) -> dict:
        px, image_text = self.image(s.image)
        conv = self.conversation(s, task, rng, image_text)
        p = self._ids(conv.prompt_text())
        r = self._ids(conv.response + IM_END)
        return {"input_ids": torch.tensor(p + r), "labels": torch.tensor([-100] * len(p) + r),
                "pixel_values": px, "task": task}

    def build_prompt(self, s: MotionSample, task: str = "motion_generation", rng: np.random.Generator | None = None) -> dict:
        """Prompt only (ends with the assistant header) plus the expected response ids."""
        rng = rng or np.random.default_rng(0)
        px, image_text = self.image(s.image)
        conv = self.conversation(s, task, rng, image_text)
        return {"input_ids": torch.tensor(self._ids(conv.prompt_text())), "pixel_values": px,
                "response_ids": self._ids(conv.response), "task": task}


def collate_train(items: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    n = max(len(i["input_ids"]) for i in items)
    ids = torch.full((len(items), n), pad_id, dtype=torch.long)
    labels = torch.full((len(items), n), -100, dtype=torch.long)
    mask = torch.zeros((len(items), n), dtype=torch.long)
    for b, it in enumerate(items):
        k = len(it["input_ids"])
        ids[b, :k], labels[b, :k], mask[b, :k] = it["input_ids"], it["labels"], 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask,
            "pixel_values": torch.cat([it["pixel_values"] for it in items])}


def collate_prompts(items: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    n = max(len(i["input_ids"]) for i in items)
    ids = torch.full((len(items), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), n), dtype=torch.long)
    for b, it in enumerate(items):
        k = len(it["input_ids"])
        ids[b, n - k:], mask[b, n - k:] = it["input_ids"], 1
    return {"input_ids": ids, "attention_mask": mask, "pixel_values": torch.cat([it["pixel_values"] for it in items])}


class TaskMixture:
    """Endless stream of training items drawn uniformly over samples and tasks."""

    def __init__(self, builder: SampleBuilder, samples: list[MotionSample], tasks: tuple[str, ...] = TASKS,
                 seed: int = 0, rank: int = 0, world: int = 1) -> None:
        if not samples:
            raise ValueError("no motion samples")
        self.builder, self.samples, self.tasks = builder, samples, tasks
        self.rng = np.random.default_rng(seed * 1000 + rank)

    def batch(self, size: int) -> list[dict]:
        out = []
        for _ in range(size):
            s = self.samples[int(self.rng.integers(len(self.samples)))]
            out.append(self.builder.build(s, self.tasks[int(self.rng.integers(len(self.tasks)))], self.rng))
        return out
