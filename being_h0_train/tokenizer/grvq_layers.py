"""The GRVQ tokenizer's building blocks: a part's shapes (``PartConfig``) and its convolutional encoder/decoder.

Written to match the official Being-H0 GRVQ code layer for layer (same names, same rounding), so released
weights load unchanged; ``grvq`` assembles them into part models and the whole tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

MANO162_DIM = 162


class Swish(nn.Module):
    """x * sigmoid(x), written out as the official code does (not fused ``nn.SiLU``), for identical rounding."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "silu": Swish, "gelu": nn.GELU}


@dataclass(frozen=True)
class PartConfig:
    """Shapes of one part model (a subset of the official ``motion_args.json``)."""

    name: str
    input_dim: int
    indices: tuple[int, ...]  # positions in the MANO-162 frame, in feature order
    width: int = 512
    depth: int = 3
    down_t: int = 2
    stride_t: int = 2
    dilation_growth_rate: int = 3
    output_emb_width: int = 512
    code_dim: int = 512
    nb_code: int = 512
    num_quantizers: int = 8
    num_groups: int = 2
    shared_codebook: bool = False
    activation: str = "relu"
    num_conv_layers: int = 1
    window_size: int = 15
    normalize: bool = True  # False when the release ships no motion_meta.json

    def validate(self) -> PartConfig:
        problems = []
        if len(self.indices) != self.input_dim:
            problems.append(f"{len(self.indices)} MANO indices for input_dim {self.input_dim}")
        if any(not 0 <= i < MANO162_DIM for i in self.indices):
            problems.append("MANO indices outside 0..161")
        if self.code_dim != self.output_emb_width:
            problems.append(f"code_dim {self.code_dim} != output_emb_width {self.output_emb_width}")
        if self.code_dim % self.num_groups:
            problems.append(f"code_dim {self.code_dim} not divisible by {self.num_groups} groups")
        if self.activation not in _ACTIVATIONS:
            problems.append(f"activation {self.activation!r} not one of {sorted(_ACTIVATIONS)}")
        if min(self.width, self.depth, self.down_t, self.stride_t, self.nb_code, self.num_quantizers,
               self.num_groups, self.num_conv_layers, self.window_size) < 1:
            problems.append("a size is < 1")
        if problems:
            raise ValueError(f"part {self.name!r}: " + "; ".join(problems))
        return self

    @property
    def downsample(self) -> int:
        return 2 ** self.down_t  # the decoder always upsamples x2 per level

    @property
    def pad(self) -> int:
        """Zero frames appended to a window (official ``res_len``: a full unit when already aligned)."""
        return self.downsample - self.window_size % self.downsample

    @property
    def latent_steps(self) -> int:
        return (self.window_size + self.pad) // self.downsample

    @property
    def tokens_per_window(self) -> int:
        return self.num_groups * self.latent_steps * self.num_quantizers

    @property
    def id_range(self) -> int:
        """How many token ids this part uses (the next part's ids start after them)."""
        return self.nb_code if self.shared_codebook else self.nb_code * self.num_quantizers


# ----------------------------------------------------------------------------- network
class DilatedResBlock(nn.Module):
    """Pre-activation residual block: act -> dilated 3-tap conv -> act -> 1x1 conv, plus the input."""

    def __init__(self, ch: int, dilation: int, activation: str) -> None:
        super().__init__()
        self.act1 = _ACTIVATIONS[activation]()
        self.conv_dilated = nn.Conv1d(ch, ch, 3, padding=dilation, dilation=dilation)
        self.act2 = _ACTIVATIONS[activation]()
        self.conv_mix = nn.Conv1d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_mix(self.act2(self.conv_dilated(self.act1(x))))


def dilated_stack(cfg: PartConfig) -> nn.Sequential:
    """``depth`` blocks, widest dilation first (rate**(depth-1), ..., rate, 1) — in encoder and decoder alike."""
    rates = [cfg.dilation_growth_rate ** d for d in reversed(range(cfg.depth))]
    return nn.Sequential(*[DilatedResBlock(cfg.width, r, cfg.activation) for r in rates])


class DownLevel(nn.Module):
    def __init__(self, cfg: PartConfig) -> None:
        super().__init__()
        s = cfg.stride_t
        self.conv = nn.Conv1d(cfg.width, cfg.width, 2 * s, stride=s, padding=s // 2)
        self.res = dilated_stack(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res(self.conv(x))


class UpLevel(nn.Module):
    def __init__(self, cfg: PartConfig) -> None:
        super().__init__()
        self.res = dilated_stack(cfg)
        self.conv = nn.Conv1d(cfg.width, cfg.width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(self.res(x), scale_factor=2, mode="nearest"))


class Encoder(nn.Module):
    """(B, D, T) -> (B, code_dim, T / 2**down_t)."""

    def __init__(self, cfg: PartConfig) -> None:
        super().__init__()
        self.stem = nn.ModuleList([nn.Conv1d(cfg.input_dim if i == 0 else cfg.width, cfg.width, 3, padding=1)
                                   for i in range(cfg.num_conv_layers)])
        self.levels = nn.ModuleList([DownLevel(cfg) for _ in range(cfg.down_t)])
        self.head = nn.Conv1d(cfg.width, cfg.output_emb_width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.stem:
            x = F.relu(conv(x))  # the stem uses ReLU whatever `activation` says
        for level in self.levels:
            x = level(x)
        return self.head(x)


class Decoder(nn.Module):
    """(B, code_dim, T') -> (B, D, T' * 2**down_t)."""

    def __init__(self, cfg: PartConfig) -> None:
        super().__init__()
        self.stem = nn.ModuleList([nn.Conv1d(cfg.output_emb_width if i == 0 else cfg.width, cfg.width, 3, padding=1)
                                   for i in range(cfg.num_conv_layers)])
        self.levels = nn.ModuleList([UpLevel(cfg) for _ in range(cfg.down_t)])
        self.post = nn.Conv1d(cfg.width, cfg.width, 3, padding=1)
        self.head = nn.Conv1d(cfg.width, cfg.input_dim, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        for conv in self.stem:
            z = F.relu(conv(z))
        for level in self.levels:
            z = level(z)
        return self.head(F.relu(self.post(z)))


def nearest_code(x: torch.Tensor, book: torch.Tensor) -> torch.Tensor:
    """Index of the nearest row of ``book`` (C, d) for each row of ``x`` (N, d).

    Same arithmetic as the official quantiser (|x|^2 + |e|^2 - 2 x.e, clamped,
    square-rooted, arg-max of the negative) so that near-ties resolve to the
    same code and token ids match bit for bit.
    """
    x, book = x[None], book[None]
    x2 = (x ** 2).sum(-1)
    e2 = (book ** 2).sum(-1)
    xe = torch.einsum("bid,bjd->bij", x, book) * -2
    dist = (x2[:, :, None] + e2[:, None, :] + xe).clamp(min=0).sqrt()
    return (-dist).argmax(dim=-1)[0]
