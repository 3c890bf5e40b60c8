"""Part-level GRQ motion tokenizer: 1D-conv VQ autoencoder over MANO feature sequences.

Why part-level: the wrist (global pose/translation) and the fingers
(articulation) move at different scales and rates; one shared latent lets the
large wrist signal dominate. Being-H0 tokenises them with separate
encoder/quantiser/decoder stacks and concatenates the tokens.

Shapes: features (B, T, D) with T a multiple of ``downsample``; each part
encodes to (B, T/downsample, code_dim), is GRQ-quantised to codes
(B, T', G, R) and decoded back to its feature subset. Parts write into their
own feature indices (``FeatureLayout.part_indices``); ``part_level=False``
uses one "hand" part over all features.

Token ids: part ``p``, group ``g``, residual stage ``r``, code ``c`` ->
``token_offset(p, g, r) + c`` with offsets in units of ``codebook_size``
(``r`` only counts when codebooks are not shared). Per time step the token
order is part-major, then group, then residual stage:
``[wrist g0 r0..R-1, wrist g1 ..., fingers g0 ..., fingers g1 ...]``.
``num_token_ids`` must equal ``BeingH0Config.num_motion_tokens``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..motion.features import FeatureLayout, get_layout
from .quantizer import GroupedResidualVQ


@dataclass(frozen=True)
class GRQConfig:
    layout: str = "D99"
    part_level: bool = True
    downsample: int = 4
    width: int = 512
    code_dim: int = 512
    num_groups: int = 2
    num_residual: int = 8
    codebook_size: int = 4096
    shared_codebook: bool = True
    depth: int = 2
    ema_decay: float = 0.99
    dead_threshold: float = 1e-2
    commitment_weight: float = 0.02
    wrist_weight: float = 1.0

    def validate(self) -> "GRQConfig":
        get_layout(self.layout)
        if self.downsample < 1 or self.downsample & (self.downsample - 1):
            raise ValueError(f"downsample must be a power of two, got {self.downsample}")
        if self.code_dim % self.num_groups:
            raise ValueError("code_dim must be divisible by num_groups")
        return self

    @classmethod
    def preset(cls, name: str, **kw) -> "GRQConfig":
        base = {"full": cls(), "tiny": cls(width=64, code_dim=32, num_groups=2, num_residual=2, codebook_size=128)}
        if name not in base:
            raise ValueError(f"unknown GRQ preset {name!r}; choose full or tiny")
        return cls(**{**asdict(base[name]), **kw}).validate()

    @property
    def parts(self) -> tuple[str, ...]:
        return ("wrist", "fingers") if self.part_level else ("hand",)

    @property
    def books_per_part(self) -> int:
        return self.num_groups * (1 if self.shared_codebook else self.num_residual)

    @property
    def num_token_ids(self) -> int:
        return len(self.parts) * self.books_per_part * self.codebook_size

    @property
    def tokens_per_step(self) -> int:
        return len(self.parts) * self.num_groups * self.num_residual


class _ResBlock(nn.Module):
    def __init__(self, ch: int, dilation: int) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(ch, ch, 3, padding=dilation, dilation=dilation)
        self.c2 = nn.Conv1d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(F.relu(self.c1(F.relu(x))))


def _encoder(d_in: int, cfg: GRQConfig) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv1d(d_in, cfg.width, 3, padding=1), nn.ReLU()]
    for _ in range(int(np.log2(cfg.downsample))):
        layers.append(nn.Conv1d(cfg.width, cfg.width, 4, stride=2, padding=1))
        layers.extend(_ResBlock(cfg.width, 3 ** i) for i in range(cfg.depth))
    layers.append(nn.Conv1d(cfg.width, cfg.code_dim, 3, padding=1))
    return nn.Sequential(*layers)


def _decoder(d_out: int, cfg: GRQConfig) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv1d(cfg.code_dim, cfg.width, 3, padding=1), nn.ReLU()]
    for _ in range(int(np.log2(cfg.downsample))):
        layers.extend(_ResBlock(cfg.width, 3 ** i) for i in reversed(range(cfg.depth)))
        layers.extend([nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv1d(cfg.width, cfg.width, 3, padding=1)])
    layers.extend([nn.ReLU(), nn.Conv1d(cfg.width, d_out, 3, padding=1)])
    return nn.Sequential(*layers)


class MotionTokenizer(nn.Module):
    """Encoder/GRQ/decoder per part + feature normaliser (mean/std buffers)."""

    def __init__(self, cfg: GRQConfig) -> None:
        super().__init__()
        self.cfg = cfg.validate()
        self.layout: FeatureLayout = get_layout(cfg.layout)
        d = self.layout.dim
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("std", torch.ones(d))
        idx = {"hand": np.arange(d)} if not cfg.part_level else {p: self.layout.part_indices(p) for p in cfg.parts}
        for p, i in idx.items():
            self.register_buffer(f"idx_{p}", torch.as_tensor(i, dtype=torch.long), persistent=False)
        self.encoders = nn.ModuleDict({p: _encoder(len(idx[p]), cfg) for p in cfg.parts})
        self.decoders = nn.ModuleDict({p: _decoder(len(idx[p]), cfg) for p in cfg.parts})
        self.quantizers = nn.ModuleDict({
            p: GroupedResidualVQ(cfg.code_dim, cfg.num_groups, cfg.num_residual, cfg.codebook_size,
                                 cfg.shared_codebook, cfg.ema_decay, cfg.dead_threshold) for p in cfg.parts})
        w = torch.ones(d)
        w[torch.as_tensor(self.layout.part_indices("wrist"))] = cfg.wrist_weight
        self.register_buffer("feature_weight", w, persistent=False)

    @property
    def feature_dim(self) -> int:
        """Input features per frame (``protocol.TokenizerLike``)."""
        return self.layout.dim

    def part_index(self, part: str) -> torch.Tensor:
        return getattr(self, f"idx_{part}")

    def set_normalizer(self, features: np.ndarray) -> None:
        """Per-dimension mean/std from (N, D) training features (std floored)."""
        f = torch.as_tensor(np.asarray(features, np.float64).reshape(-1, self.layout.dim))
        self.mean.copy_(f.mean(0).float())
        self.std.copy_(f.std(0).clamp_min(1e-3).float())

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 3 or x.shape[-1] != self.layout.dim:
            raise ValueError(f"features must be (B, T, {self.layout.dim}) for {self.layout.name}, got {tuple(x.shape)}")
        if x.shape[1] % self.cfg.downsample:
            raise ValueError(f"sequence length {x.shape[1]} must be a multiple of downsample={self.cfg.downsample}")

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Raw features (B, T, D) -> dict(recon (raw units), codes (B,T',P,G,R), loss terms)."""
        self._check(x)
        xn = self.normalize(x)
        out = torch.zeros_like(xn)
        commit = xn.new_zeros(())
        codes = []
        for p in self.cfg.parts:
            i = self.part_index(p)
            z = self.encoders[p](xn[..., i].transpose(1, 2)).transpose(1, 2)
            zq, c, cl = self.quantizers[p](z)
            commit = commit + cl
            out[..., i] = self.decoders[p](zq.transpose(1, 2)).transpose(1, 2).to(out.dtype)
            codes.append(c)
        err = F.smooth_l1_loss(out, xn, reduction="none", beta=0.1)
        recon = (err * (self.feature_weight / self.feature_weight.mean())).mean()
        wrist = err[..., torch.as_tensor(self.layout.part_indices("wrist"), device=x.device)].mean()
        loss = recon + self.cfg.commitment_weight * commit
        return {"recon": self.denormalize(out), "codes": torch.stack(codes, 2), "loss": loss,
                "recon_loss": recon.detach(), "commit_loss": commit.detach(), "wrist_loss": wrist.detach()}

    # ----- ids ---------------------------------------------------------------
    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Raw features (B, T, D) -> codes (B, T/downsample, P, G, R) int64."""
        was = self.training
        self.eval()
        try:
            return self.forward(x)["codes"]
        finally:
            self.train(was)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, T', P, G, R') -> raw features (B, T'*downsample, D)."""
        b, t = codes.shape[:2]
        out = torch.zeros(b, t * self.cfg.downsample, self.layout.dim, device=codes.device)
        for pi, p in enumerate(self.cfg.parts):
            z = self.quantizers[p].decode_codes(codes[:, :, pi])
            out[..., self.part_index(p)] = self.decoders[p](z.transpose(1, 2)).transpose(1, 2)
        return self.denormalize(out)

    def _offsets(self, device: torch.device) -> torch.Tensor:
        c = self.cfg
        p_ = torch.arange(len(c.parts), device=device)[:, None, None]
        g_ = torch.arange(c.num_groups, device=device)[None, :, None]
        r_ = torch.arange(c.num_residual, device=device)[None, None, :]
        book = g_ * (1 if c.shared_codebook else c.num_residual) + (0 if c.shared_codebook else r_)
        return ((p_ * c.books_per_part + book) * c.codebook_size).expand(len(c.parts), c.num_groups, c.num_residual)

    def codes_to_ids(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, T', P, G, R) -> flat global token ids (B, T'*P*G*R) in the documented order."""
        ids = codes + self._offsets(codes.device)
        return ids.reshape(codes.shape[0], -1)

    def ids_to_codes(self, ids: torch.Tensor) -> torch.Tensor:
        """Inverse of ``codes_to_ids``; raises if an id is in the wrong slot or length is ragged."""
        c = self.cfg
        per = c.tokens_per_step
        if ids.shape[-1] % per:
            raise ValueError(f"{ids.shape[-1]} motion ids is not a multiple of {per} tokens per step")
        shaped = ids.reshape(ids.shape[0], -1, len(c.parts), c.num_groups, c.num_residual)
        codes = shaped - self._offsets(ids.device)
        if bool(((codes < 0) | (codes >= c.codebook_size)).any()):
            raise ValueError("motion ids out of place for their (part, group, stage) slot")
        return codes

    def features_to_ids(self, x: torch.Tensor) -> torch.Tensor:
        return self.codes_to_ids(self.encode(x))

    def ids_to_features(self, ids: torch.Tensor) -> torch.Tensor:
        return self.decode(self.ids_to_codes(ids))

    # ----- persistence -------------------------------------------------------
    def save(self, directory: str | Path, extra: dict | None = None) -> None:
        from safetensors.torch import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(d / "tokenizer.safetensors"))
        (d / "tokenizer_config.json").write_text(json.dumps({"grq": asdict(self.cfg), **(extra or {})}, indent=2))

    @classmethod
    def load(cls, directory: str | Path) -> "MotionTokenizer":
        from safetensors.torch import load_file

        d = Path(directory)
        cfg_p = d / "tokenizer_config.json"
        if not cfg_p.exists():
            raise FileNotFoundError(f"{d}: no tokenizer_config.json")
        try:
            cfg = GRQConfig(**json.loads(cfg_p.read_text())["grq"]).validate()
        except (TypeError, KeyError, ValueError) as e:
            raise ValueError(f"{cfg_p}: {e}") from None
        m = cls(cfg)
        m.load_state_dict(load_file(str(d / "tokenizer.safetensors")))
        m.eval()
        return m
