"""Motion feature windows for tokenizer training, from canonical clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..motion.clip import Clip, list_clips, load_clip
from ..motion.features import FeatureLayout, params_to_features
from ..motion.mano import ManoLayer
from ..motion.synthetic import SyntheticConfig, generate_clip


def clip_features(clip: Clip, layout: FeatureLayout, mano: ManoLayer) -> tuple[np.ndarray, np.ndarray]:
    """(T, D) features and (T, 21, 3) MANO joints of a clip (joints recomputed with ``mano``)."""
    p = clip.params
    dt = mano.v_template.dtype
    f = lambda a: torch.as_tensor(np.asarray(a), dtype=dt)  # noqa: E731
    with torch.no_grad():
        joints = mano(f(p.global_orient), f(p.hand_pose), f(p.betas), f(p.transl), return_vertices=False).joints.double().numpy()
    return params_to_features(p, layout, joints if "joints" in layout.blocks else None), joints


class WindowDataset:
    """Random fixed-length windows over a list of clip feature arrays."""

    def __init__(self, features: list[np.ndarray], window: int, betas: list[np.ndarray] | None = None) -> None:
        self.features = [f for f in features if f.shape[0] >= window]
        if not self.features:
            raise ValueError(f"no clip has at least {window} frames")
        self.betas = betas
        self.window = window

    def sample(self, rng: np.random.Generator, batch: int) -> tuple[torch.Tensor, np.ndarray]:
        xs, ids = [], []
        for _ in range(batch):
            i = int(rng.integers(len(self.features)))
            f = self.features[i]
            s = int(rng.integers(0, f.shape[0] - self.window + 1))
            xs.append(f[s:s + self.window])
            ids.append(i)
        return torch.as_tensor(np.stack(xs), dtype=torch.float32), np.asarray(ids)


def load_or_generate(data_dir: str | Path | None, num_synthetic: int, seed: int, num_frames: int = 64) -> list[Clip]:
    if data_dir:
        return [load_clip(p, load_frames=False) for p in list_clips(data_dir)]
    rng = np.random.default_rng(seed)
    cfg = SyntheticConfig(num_frames=num_frames, render=False)
    return [generate_clip(rng, cfg) for _ in range(num_synthetic)]
