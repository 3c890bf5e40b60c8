"""Asynchronous, latency-compensated execution: keep running while the next chunk is computed."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .base import _EPS, ChunkExecutor, sample


@dataclass
class _Timeline:
    """One accepted chunk placed on the wall clock: step i0 plays at `arrival`."""

    chunk: np.ndarray
    obs: float
    arrival: float
    i0: int
    dt: float

    def x(self, now: float) -> float:
        return self.i0 + max(now - self.arrival, 0.0) / self.dt

    def nominal(self, now: float, interpolate: bool) -> float:
        """Time the executed action was meant for (fractional when interpolating)."""
        x = min(self.x(now), self.chunk.shape[0] - 1.0)
        return self.obs + (x if interpolate else math.floor(x + _EPS)) * self.dt

    def ended(self, now: float) -> bool:
        return self.x(now) >= self.chunk.shape[0] - _EPS


class AsyncLatencyCompensatedExecutor(ChunkExecutor):
    """Keep executing while the next chunk is computed; skip the steps its latency used up.

    On arrival the new chunk starts at step round(latency_ema / dt), where
    latency_ema is the EMA of (arrival - obs_time): the step meant for "now".
    It never starts at a step whose nominal time (obs + i*dt) is earlier than
    the one already executed, so time never runs backwards across a switch;
    chunks older than the current one, or entirely in the past, are dropped.

    The next request goes out when the remaining steps fall to
    `prefetch_steps` (default: ceil(latency_ema / dt) + margin_steps), so the
    new chunk lands just before the old one runs out.
    """

    name = "async"

    def __init__(
        self,
        prefetch_steps: int | None = None,
        ema_alpha: float = 0.3,
        initial_latency_s: float | None = None,
        margin_steps: int = 1,
        interpolate: bool = False,
    ) -> None:
        super().__init__(interpolate)
        if not (0.0 < ema_alpha <= 1.0):
            raise ValueError(f"ema_alpha must be in (0, 1], got {ema_alpha}")
        if prefetch_steps is not None and prefetch_steps < 0:
            raise ValueError(f"prefetch_steps must be >= 0, got {prefetch_steps}")
        self.prefetch_steps = prefetch_steps
        self.ema_alpha = ema_alpha
        self.margin_steps = margin_steps
        self._initial_latency = initial_latency_s
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.latency_ema: float | None = self._initial_latency
        self._tl: _Timeline | None = None
        self.last_nominal: float | None = None

    @property
    def current_start_step(self) -> int | None:
        return self._tl.i0 if self._tl is not None else None

    def _update_latency(self, obs_time: float, arrival_time: float) -> None:
        lat = max(arrival_time - obs_time, 0.0)
        if self.latency_ema is None:
            self.latency_ema = lat
        else:
            self.latency_ema += self.ema_alpha * (lat - self.latency_ema)

    def _accept(self, c: np.ndarray, obs_time: float, arrival_time: float, step_dt: float) -> _Timeline | None:
        """Place a received chunk on the clock: the step meant for now, never one earlier than the last
        executed; None (counted) when it is out of order or entirely in the past."""
        self._update_latency(obs_time, arrival_time)
        if self._out_of_order(obs_time, self._tl.obs if self._tl is not None else None):
            return None
        assert self.latency_ema is not None
        i0 = round(self.latency_ema / step_dt)
        if self.last_nominal is not None:
            i0 = max(i0, math.ceil((self.last_nominal - obs_time) / step_dt - _EPS))
        i0 = max(i0, 0)
        if i0 >= c.shape[0]:
            self.stats["dropped_late"] += 1
            return None
        return _Timeline(c, float(obs_time), float(arrival_time), i0, float(step_dt))

    def on_chunk(self, chunk: np.ndarray, obs_time: float, arrival_time: float, step_dt: float) -> None:
        c = self._receive(chunk, obs_time, arrival_time, step_dt)
        tl = self._accept(c, obs_time, arrival_time, step_dt)
        if tl is not None:
            self._tl = tl

    def _play(self, tl: _Timeline, now: float) -> np.ndarray:
        nominal = tl.nominal(now, self.interpolate)
        if self.last_nominal is None or nominal > self.last_nominal:
            self.last_nominal = nominal
        return sample(tl.chunk, tl.x(now), self.interpolate)

    def action_at(self, now: float) -> np.ndarray | None:
        tl = self._tl
        if tl is None:
            return None
        if tl.ended(now):
            self.stats["starved"] += 1
            return None
        return self._play(tl, now)

    def remaining_steps(self, now: float) -> float:
        if self._tl is None:
            return 0.0
        return max(self._tl.chunk.shape[0] - math.floor(self._tl.x(now) + _EPS), 0)

    def _wants_chunk(self, now: float) -> bool:
        if self._tl is None:
            return True
        if self.prefetch_steps is not None:
            k = self.prefetch_steps
        else:
            k = math.ceil((self.latency_ema or 0.0) / self._tl.dt - _EPS) + self.margin_steps
        return self.remaining_steps(now) <= k
