"""Synchronous execution: run part of a chunk, wait for the next one."""

from __future__ import annotations

import numpy as np

from .base import _EPS, ChunkExecutor, sample


class SynchronousExecutor(ChunkExecutor):
    """Execute the first `n_execute` steps of each chunk from its arrival, then ask for the next.

    The robot waits (action None) while the next chunk is computed: simple,
    no blending, but pauses of one inference latency every n steps.
    """

    name = "sync"

    def __init__(self, n_execute: int | None = None, interpolate: bool = False) -> None:
        super().__init__(interpolate)
        if n_execute is not None and n_execute < 1:
            raise ValueError(f"n_execute must be >= 1, got {n_execute}")
        self.n_execute = n_execute
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._chunk: np.ndarray | None = None
        self._start = 0.0
        self._dt = 1.0
        self._n = 0

    def on_chunk(self, chunk: np.ndarray, obs_time: float, arrival_time: float, step_dt: float) -> None:
        c = self._receive(chunk, obs_time, arrival_time, step_dt)
        self._chunk, self._start, self._dt = c, float(arrival_time), float(step_dt)
        self._n = min(self.n_execute or c.shape[0], c.shape[0])

    def action_at(self, now: float) -> np.ndarray | None:
        if self._chunk is None:
            return None
        x = max((now - self._start) / self._dt, 0.0)
        if x >= self._n - _EPS:
            return None
        return sample(self._chunk[: self._n], x, self.interpolate)

    def _wants_chunk(self, now: float) -> bool:
        return self._chunk is None or (now - self._start) / self._dt >= self._n - _EPS
