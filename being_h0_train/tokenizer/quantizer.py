"""Grouped residual vector quantisation (GRQ) with EMA codebooks and dead-code restarts.

Why: one VQ codebook either under-fits hand motion (few codes) or collapses
(many codes). GRQ splits the latent channel dimension into ``num_groups``
groups and quantises each with ``num_residual`` residual VQ stages, so a
frame is described coarse-to-fine by ``groups x residual`` small codes.
Codebooks are updated by exponential moving averages (no gradient; set
``EMACodebook.sync_distributed`` to all-reduce the statistics when every rank
trains the same codebooks under torchrun), and codes
whose EMA usage falls below ``dead_threshold`` are re-seeded from random
encoder outputs of the current batch so the codebook stays in use.

``shared_codebook=True`` (default) uses one codebook per group for all
residual stages: the LLM then needs only ``groups x codebook_size`` motion
tokens per part (otherwise ``groups x residual x codebook_size``).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


class EMACodebook(nn.Module):
    def __init__(self, size: int, dim: int, decay: float = 0.99, eps: float = 1e-5, dead_threshold: float = 1e-2) -> None:
        super().__init__()
        self.size, self.dim, self.decay, self.eps, self.dead_threshold = size, dim, decay, eps, dead_threshold
        embed = torch.randn(size, dim) * 0.1
        self.register_buffer("embed", embed)
        self.register_buffer("cluster_size", torch.ones(size))
        self.register_buffer("embed_sum", embed.clone())
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))
        # all-reduce EMA statistics across ranks; only when EVERY rank trains this codebook
        self.sync_distributed = False

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        d = (x.pow(2).sum(-1, keepdim=True) - 2 * x @ self.embed.T + self.embed.pow(2).sum(-1)[None])
        return d.argmin(-1)

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(idx, self.embed)

    @torch.no_grad()
    def init_from(self, x: torch.Tensor) -> None:
        """k-means++-lite init: random distinct samples (with noise if too few)."""
        n = x.shape[0]
        pick = torch.randint(0, n, (self.size,), device=x.device) if n < self.size else torch.randperm(n, device=x.device)[: self.size]
        e = x[pick] + (torch.randn_like(x[pick]) * 1e-3 if n < self.size else 0)
        if self.sync_distributed:
            _broadcast(e)
        self.embed.copy_(e)
        self.embed_sum.copy_(e)
        self.cluster_size.fill_(1.0)
        self.initialised.fill_(True)

    @torch.no_grad()
    def ema_update(self, x: torch.Tensor, idx: torch.Tensor) -> None:
        onehot = F.one_hot(idx, self.size).type(x.dtype)
        counts = onehot.sum(0)
        sums = onehot.T @ x
        if self.sync_distributed:
            _all_reduce(counts)
            _all_reduce(sums)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        size = (self.cluster_size + self.eps) / (n + self.size * self.eps) * n
        self.embed.copy_(self.embed_sum / size[:, None])
        dead = self.cluster_size < self.dead_threshold
        nd = int(dead.sum())
        if nd:
            pick = torch.randint(0, x.shape[0], (nd,), device=x.device)
            new = x[pick]
            full = torch.zeros_like(self.embed)
            full[dead] = new
            if self.sync_distributed:
                _broadcast(full)
            self.embed[dead] = full[dead]
            self.embed_sum[dead] = full[dead]
            self.cluster_size[dead] = 1.0


def _dist() -> bool:
    return dist.is_available() and dist.is_initialized()


def _all_reduce(t: torch.Tensor) -> None:
    if _dist():
        dist.all_reduce(t)


def _broadcast(t: torch.Tensor) -> None:
    if _dist():
        dist.broadcast(t, 0)


class GroupedResidualVQ(nn.Module):
    """(B, T, D) latents -> quantised latents, codes (B, T, G, R), commitment loss."""

    def __init__(self, dim: int, num_groups: int = 2, num_residual: int = 8, codebook_size: int = 4096,
                 shared_codebook: bool = True, decay: float = 0.99, dead_threshold: float = 1e-2) -> None:
        super().__init__()
        if dim % num_groups:
            raise ValueError(f"code dim {dim} not divisible by num_groups {num_groups}")
        self.dim, self.num_groups, self.num_residual = dim, num_groups, num_residual
        self.codebook_size, self.shared = codebook_size, shared_codebook
        n_books = num_groups * (1 if shared_codebook else num_residual)
        self.books = nn.ModuleList(EMACodebook(codebook_size, dim // num_groups, decay, dead_threshold=dead_threshold)
                                   for _ in range(n_books))

    def book(self, g: int, r: int) -> EMACodebook:
        return self.books[g if self.shared else g * self.num_residual + r]

    @property
    def num_codebooks(self) -> int:
        return len(self.books)

    def codebook_index(self, g: int, r: int) -> int:
        return g if self.shared else g * self.num_residual + r

    def forward(self, z: torch.Tensor, num_residual: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        nr = num_residual or self.num_residual
        b, t, _ = z.shape
        groups = z.float().chunk(self.num_groups, dim=-1)
        q_out, codes = [], []
        for g, zg in enumerate(groups):
            flat = zg.reshape(-1, zg.shape[-1])
            resid = flat
            q_sum = torch.zeros_like(flat)
            g_codes = []
            for r in range(nr):
                book = self.book(g, r)
                if self.training and not bool(book.initialised):
                    book.init_from(resid.detach())
                idx = book.nearest(resid.detach())
                q = book.lookup(idx)
                if self.training:
                    book.ema_update(resid.detach(), idx)
                q_sum = q_sum + q
                resid = resid - q.detach()
                g_codes.append(idx)
            q_out.append(q_sum.view(b, t, -1))
            codes.append(torch.stack(g_codes, -1).view(b, t, nr))
        zq = torch.cat(q_out, -1)
        commit = F.mse_loss(z.float(), zq.detach())
        zq = z + (zq - z).detach()  # straight-through
        return zq, torch.stack(codes, -2), commit

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, T, G, R') int codes -> (B, T, D) latents (R' <= num_residual)."""
        outs = []
        for g in range(self.num_groups):
            acc = 0
            for r in range(codes.shape[-1]):
                acc = acc + self.book(g, r).lookup(codes[..., g, r])
            outs.append(acc)
        return torch.cat(outs, -1)
