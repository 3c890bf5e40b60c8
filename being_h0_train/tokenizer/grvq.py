"""The released Being-H0 hand-motion tokenizer (GRVQ-8K) in the official architecture.

Why a second tokenizer next to ``model.MotionTokenizer``: the released
``Being-H0-GRVQ-8K`` and the VLA checkpoints trained on its tokens expect
exactly the official network, MANO layout and token numbering. Our own
tokenizer (``model.py``) differs in all three (D162 layout with the wrist
first and column-concatenated 6D, dilation order, decoder depth, one shared
codebook). Both satisfy ``protocol.TokenizerLike``; ``protocol.load_tokenizer``
picks the right one from the folder.

Official MANO-162 frame layout (what ``encode`` takes, per frame)::

    [  0: 90]  15 finger joints, 6D rotation each
    [ 90: 96]  wrist (global) orientation, 6D
    [ 96: 99]  wrist translation
    [ 99:162]  21 joint positions x 3 (joint 0 = wrist)

6D = the first two columns of the rotation matrix, row-interleaved:
``[R00, R01, R10, R11, R20, R21]`` (``R[:, :, :2].reshape(6)``).

Two independent part models, each a 1D-conv VQ-VAE:

- ``wrist``  9 dims = MANO-162[90:99]   (wrist 6D + translation)
- ``finger`` 150 dims = MANO-162[0:90] + [102:162] (finger 6D + joints 1..20)

(the release declares these selections in each part's ``meta_mask.json``;
the converter stores the indices it found.)

A window of ``window_size`` frames (15 at 15 fps = one second) is
normalised per part ((x - mean) / (std + 1e-6)), padded at the end with
``pad`` zero frames to a multiple of the x4 temporal downsampling (15 -> 16),
encoded to (16 / 4) = 4 latent steps of ``code_dim``, split into 2 groups
and quantised by 8 residual codebooks per group (nearest code, Euclidean).

Token numbering (the N of ``<motion_id_N>``), per window::

    for part in (wrist, finger):          # part base: 0, then wrist's id range
        for group in 0..G-1:
            for step in 0..T'-1:
                for stage in 0..Q-1:
                    N = part_base + stage * nb_code + code   # stage term only
                                                             # without shared codebook

i.e. 2 x (2 x 4 x 8) = 128 tokens per window. ``decode`` inverts this and
returns, per frame, ``[wrist 9 | finger 150]`` = 159 values in MANO units
(denormalised), with the pad frame dropped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .grvq_layers import (  # MANO162_DIM and PartConfig are also imported from here by convert and tests
    MANO162_DIM,
    Decoder,
    Encoder,
    PartConfig,
    nearest_code,
)

FORMAT = "being_h0_official_grvq"
CONFIG_FILE = "tokenizer_config.json"
WEIGHTS_FILE = "tokenizer.safetensors"
PART_NAMES = ("wrist", "finger")

#: where each part's features sit inside one MANO-162 frame (used when a release has no meta_mask.json)
DEFAULT_PART_INDICES: dict[str, list[int]] = {
    "wrist": list(range(90, 99)),
    "finger": list(range(90)) + list(range(102, 162)),
}

class PartModel(nn.Module):
    """One part: encoder, grouped residual codebooks (G, Q, C, d), decoder, normaliser."""

    def __init__(self, cfg: PartConfig) -> None:
        super().__init__()
        self.cfg = cfg.validate()
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        d = cfg.code_dim // cfg.num_groups
        self.register_buffer("codebooks", torch.zeros(cfg.num_groups, cfg.num_quantizers, cfg.nb_code, d))
        self.register_buffer("mean", torch.zeros(cfg.input_dim))
        self.register_buffer("std", torch.ones(cfg.input_dim))

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (B, T', code_dim) -> codes (B, G, T', Q)."""
        b, t, _ = z.shape
        codes = []
        for g, chunk in enumerate(z.chunk(self.cfg.num_groups, dim=-1)):
            residual = chunk.float()
            stages = []
            for q in range(self.cfg.num_quantizers):
                book = self.codebooks[g, q]
                idx = nearest_code(residual.reshape(b * t, -1), book).reshape(b, t)
                residual = residual - book[idx]
                stages.append(idx)
            codes.append(torch.stack(stages, dim=-1))
        return torch.stack(codes, dim=1)

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, G, T', Q) -> latents (B, T', code_dim): sum of the chosen codes per group."""
        groups = []
        for g in range(self.cfg.num_groups):
            per_stage = torch.stack([self.codebooks[g, q][codes[:, g, :, q]] for q in range(self.cfg.num_quantizers)])
            groups.append(per_stage.sum(dim=0))
        return torch.cat(groups, dim=-1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Part features (B, window, D), raw units -> codes (B, G, T', Q)."""
        if self.cfg.normalize:  # in the input's dtype, as the official code does (float64 in -> float64 here)
            x = (x - self.mean.to(x.dtype)) / (self.std.to(x.dtype) + 1e-6)
        x = torch.cat([x, x.new_zeros(x.shape[0], self.cfg.pad, x.shape[2])], dim=1)
        z = self.encoder(x.permute(0, 2, 1).float())
        return self.quantize(z.permute(0, 2, 1))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, G, T', Q) -> part features (B, window, D), raw units."""
        z = self.dequantize(codes)
        x = self.decoder(z.permute(0, 2, 1).contiguous()).permute(0, 2, 1)
        x = x[:, : x.shape[1] - self.cfg.pad]
        return x * self.std + self.mean if self.cfg.normalize else x

    # token ids of this part, relative to its base
    def codes_to_ids(self, codes: torch.Tensor) -> torch.Tensor:
        stage = torch.arange(self.cfg.num_quantizers, device=codes.device)
        ids = codes if self.cfg.shared_codebook else codes + stage * self.cfg.nb_code
        return ids.reshape(codes.shape[0], -1)

    def ids_to_codes(self, ids: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        if bool(((ids < 0) | (ids >= c.id_range)).any()):
            raise ValueError(f"{c.name} token ids outside 0..{c.id_range - 1}")
        return (ids % c.nb_code).reshape(ids.shape[0], c.num_groups, c.latent_steps, c.num_quantizers)


@dataclass(frozen=True)
class OfficialTokenizerConfig:
    parts: tuple[PartConfig, ...]
    fps: float = 15.0
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def window_size(self) -> int:
        return self.parts[0].window_size

    @property
    def tokens_per_window(self) -> int:
        return sum(p.tokens_per_window for p in self.parts)

    @property
    def output_dim(self) -> int:
        return sum(p.input_dim for p in self.parts)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": 1, "fps": self.fps, "window_size": self.window_size,
                "tokens_per_window": self.tokens_per_window, "input": "MANO-162 (official layout)",
                "output": " | ".join(f"{p.name} {p.input_dim}" for p in self.parts),
                "parts": [asdict(p) for p in self.parts], "source": self.source}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OfficialTokenizerConfig:
        if d.get("format") != FORMAT:
            raise ValueError(f"field 'format' is {d.get('format')!r}, expected {FORMAT!r}")
        parts = tuple(PartConfig(**{**p, "indices": tuple(p["indices"])}).validate() for p in d["parts"])
        if len({p.window_size for p in parts}) != 1:
            raise ValueError("parts disagree on window_size")
        return cls(parts, float(d.get("fps", 15.0)), dict(d.get("source", {})))


class OfficialMotionTokenizer(nn.Module):
    """GRVQ-8K: MANO-162 windows <-> ``<motion_id_N>`` numbers, as the official ``encode_motion``/``decode_motion``.

    Satisfies ``protocol.TokenizerLike``: ``features_to_ids`` takes (B, T, 162)
    with T a multiple of ``window_size`` and returns (B, T / window * 128) ids;
    ``ids_to_features`` returns (B, T, 159) = [wrist 9 | finger 150] per frame.
    """

    feature_dim = MANO162_DIM

    def __init__(self, cfg: OfficialTokenizerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.parts = nn.ModuleDict({p.name: PartModel(p) for p in cfg.parts})
        bases, acc = [], 0
        for p in cfg.parts:
            bases.append(acc)
            acc += p.id_range
        self.part_bases = tuple(bases)
        self.num_token_ids = acc

    @property
    def window_size(self) -> int:
        return self.cfg.window_size

    @property
    def tokens_per_window(self) -> int:
        return self.cfg.tokens_per_window

    @property
    def output_dim(self) -> int:
        return self.cfg.output_dim

    def _windows(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != MANO162_DIM:
            raise ValueError(f"motion must be (B, T, {MANO162_DIM}) MANO-162 frames, got {tuple(x.shape)}")
        if x.shape[1] == 0 or x.shape[1] % self.window_size:
            raise ValueError(f"motion has {x.shape[1]} frames: need a positive multiple of the "
                             f"{self.window_size}-frame window")
        return x.reshape(-1, self.window_size, MANO162_DIM)

    @torch.no_grad()
    def encode_windows(self, windows: torch.Tensor) -> torch.Tensor:
        """(W, window, 162) -> (W, tokens_per_window) token numbers N."""
        out = []
        for base, part in zip(self.part_bases, self.parts.values()):
            idx = torch.as_tensor(part.cfg.indices, device=windows.device)
            out.append(part.codes_to_ids(part.encode(windows[..., idx])) + base)
        return torch.cat(out, dim=-1)

    @torch.no_grad()
    def decode_windows(self, ids: torch.Tensor) -> torch.Tensor:
        """(W, tokens_per_window) -> (W, window, 159) [wrist | finger] per frame."""
        if ids.ndim != 2 or ids.shape[1] != self.tokens_per_window:
            raise ValueError(f"token ids must be (windows, {self.tokens_per_window}), got {tuple(ids.shape)}")
        out, start = [], 0
        for base, part in zip(self.part_bases, self.parts.values()):
            n = part.cfg.tokens_per_window
            out.append(part.decode(part.ids_to_codes(ids[:, start:start + n] - base)))
            start += n
        return torch.cat(out, dim=-1)

    def features_to_ids(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        return self.encode_windows(self._windows(x)).reshape(b, -1)

    def ids_to_features(self, ids: torch.Tensor) -> torch.Tensor:
        b = ids.shape[0]
        if ids.shape[-1] % self.tokens_per_window:
            raise ValueError(f"{ids.shape[-1]} token ids is not a multiple of {self.tokens_per_window} per window")
        frames = self.decode_windows(ids.reshape(-1, self.tokens_per_window))
        return frames.reshape(b, -1, self.output_dim)

    # ----- persistence -------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """Write weights + config into ``directory`` (the caller renames a temporary folder into place)."""
        from safetensors.torch import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(d / WEIGHTS_FILE))
        (d / CONFIG_FILE).write_text(json.dumps(self.cfg.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> OfficialMotionTokenizer:
        from safetensors.torch import load_file

        d = Path(directory)
        cfg_p = d / CONFIG_FILE
        try:
            cfg = OfficialTokenizerConfig.from_dict(json.loads(cfg_p.read_text()))
        except FileNotFoundError:
            raise FileNotFoundError(f"{cfg_p}: not found (not a converted tokenizer folder)") from None
        except (ValueError, TypeError, KeyError, json.JSONDecodeError) as e:
            raise ValueError(f"{cfg_p}: {e}") from None
        m = cls(cfg)
        try:
            m.load_state_dict(load_file(str(d / WEIGHTS_FILE)))
        except (RuntimeError, OSError) as e:
            raise ValueError(f"{d / WEIGHTS_FILE}: {e}") from None
        return m.eval()


# ----------------------------------------------------------------------------- layouts
def project_d162_to_official(features: np.ndarray) -> np.ndarray:
    """The project's D162 frames (``motion.features``) -> official MANO-162 frames.

    Ours: rot_6d[96] (wrist first, then 15 finger joints; 6D = [col0, col1])
    + transl[3] + joints[63]. Official: finger 6D[90] + wrist 6D[6] + transl
    + joints, with 6D row-interleaved ``[R00, R01, R10, R11, R20, R21]``.
    """
    f = np.asarray(features)
    if f.shape[-1] != MANO162_DIM:
        raise ValueError(f"expected (..., 162) D162 features, got {f.shape}")
    rot = f[..., :96].reshape(*f.shape[:-1], 16, 2, 3)  # (joint, column, row)
    rot = np.swapaxes(rot, -1, -2).reshape(*f.shape[:-1], 16, 6)  # (joint, row, column)
    wrist, fingers = rot[..., 0, :], rot[..., 1:, :].reshape(*f.shape[:-1], 90)
    return np.concatenate([fingers, wrist, f[..., 96:]], axis=-1)
