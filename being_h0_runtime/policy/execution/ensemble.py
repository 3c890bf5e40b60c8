"""Temporal ensembling (ACT): a weighted mean over every chunk that covers now."""

from __future__ import annotations

import math

import numpy as np

from .base import _EPS, ChunkExecutor, check_action_dim, sample


class TemporalEnsembleExecutor(ChunkExecutor):
    """ACT-style temporal ensembling over every chunk that covers `now`.

    Each chunk k predicted step i = floor((now - obs_k)/dt) for now; the
    output is the weighted mean with weights exp(-m * j), j = 0 for the
    oldest chunk (as in ACT: smaller m reacts faster to new chunks). A new
    chunk is requested every `query_every` steps.
    """

    name = "ensemble"

    def __init__(self, m: float = 0.01, query_every: int = 1, max_chunks: int = 64, interpolate: bool = False) -> None:
        super().__init__(interpolate)
        if not (m >= 0 and math.isfinite(m)):
            raise ValueError(f"m must be >= 0, got {m}")
        if query_every < 1:
            raise ValueError(f"query_every must be >= 1, got {query_every}")
        self.m = m
        self.query_every = query_every
        self.max_chunks = max_chunks
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._chunks: list[tuple[np.ndarray, float, float]] = []  # (chunk, obs, dt), oldest first

    def on_chunk(self, chunk: np.ndarray, obs_time: float, arrival_time: float, step_dt: float) -> None:
        c = self._receive(chunk, obs_time, arrival_time, step_dt)
        newest = self._chunks[-1] if self._chunks else None
        if self._out_of_order(obs_time, newest[1] if newest else None):
            return
        check_action_dim(c, newest[0] if newest else None)
        self._chunks.append((c, float(obs_time), float(step_dt)))
        if len(self._chunks) > self.max_chunks:
            self._chunks.pop(0)

    def action_at(self, now: float) -> np.ndarray | None:
        # drop chunks that ended; keep ones that have not started (now < obs cannot happen in practice)
        self._chunks = [e for e in self._chunks if (now - e[1]) / e[2] < e[0].shape[0] - _EPS]
        acc = None
        wsum = 0.0
        j = 0
        for c, obs, dt in self._chunks:
            x = (now - obs) / dt
            if x < -_EPS:
                continue
            w = math.exp(-self.m * j)
            j += 1
            a = sample(c, x, self.interpolate)
            acc = a * w if acc is None else acc + a * w
            wsum += w
        if acc is None:
            return None
        return acc / wsum

    def _wants_chunk(self, now: float) -> bool:
        if not self._chunks:
            return True
        _, obs, dt = self._chunks[-1]
        return (now - obs) / dt >= self.query_every - _EPS
