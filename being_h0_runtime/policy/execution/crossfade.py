"""Cross-fade execution: asynchronous, blending the old chunk into the new over a few steps."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .base import _EPS, sample
from .latency import AsyncLatencyCompensatedExecutor, _Timeline


class CrossFadeExecutor(AsyncLatencyCompensatedExecutor):
    """Async execution, but blend old -> new over `fade_steps` steps after each switch.

    Step j after a switch outputs (1-a)*old + a*new with a = (j+1)/(fade_steps+1),
    so a jump between chunks is split into fade_steps+1 equal parts. The old
    side keeps running on its own timeline (holding its last action if it
    ends); a chunk arriving mid-fade fades from the current blend, so there
    is no jump either. Requests go out `fade_steps` earlier than plain async
    so the old chunk normally still covers the whole fade; after starvation
    the fade starts from the last output (what the robot is holding).
    """

    name = "crossfade"

    def __init__(self, fade_steps: int = 4, **async_params: object) -> None:
        if fade_steps < 0:
            raise ValueError(f"fade_steps must be >= 0, got {fade_steps}")
        self.fade_steps = fade_steps
        super().__init__(**async_params)  # type: ignore[arg-type]

    def reset(self) -> None:
        super().reset()
        self._source: Callable[[float], np.ndarray] | None = None
        self._new_plain: Callable[[float], np.ndarray] | None = None
        self._last_output: np.ndarray | None = None
        self._fade_end = -math.inf

    def _plain(self, tl: _Timeline) -> Callable[[float], np.ndarray]:
        return lambda now: sample(tl.chunk, tl.x(now), self.interpolate)

    def on_chunk(self, chunk: np.ndarray, obs_time: float, arrival_time: float, step_dt: float) -> None:
        c = self._receive(chunk, obs_time, arrival_time, step_dt)
        tl = self._accept(c, obs_time, arrival_time, step_dt)
        if tl is None:
            return
        new = self._plain(tl)
        old = self._source
        if old is not None and self._tl is not None and self._tl.ended(arrival_time):
            # we were starved: the robot holds the last output, so fade from that
            held = self._last_output
            old = None if held is None else (lambda now, held=held: held)
        k = self.fade_steps
        if old is None or k == 0:
            self._source = new
        else:
            start = float(arrival_time)

            def blended(now: float, old=old, new=new, start=start, dt=float(step_dt)) -> np.ndarray:
                j = math.floor(max(now - start, 0.0) / dt + _EPS)
                if j >= k:
                    return new(now)
                a = (j + 1) / (k + 1)
                return (1.0 - a) * old(now) + a * new(now)

            self._source = blended
            self._fade_end = start + k * step_dt
        self._tl = tl
        self._new_plain = new

    def action_at(self, now: float) -> np.ndarray | None:
        tl = self._tl
        if tl is None or self._source is None:
            return None
        if tl.ended(now):
            self.stats["starved"] += 1
            return None
        if now >= self._fade_end and self._source is not self._new_plain:
            self._source = self._new_plain  # fade done: drop the closure chain
        self._play(tl, now)  # bookkeeping of the nominal time
        self._last_output = self._source(now)
        return self._last_output

    def _wants_chunk(self, now: float) -> bool:
        # ask fade_steps earlier than plain async so the old chunk still covers the fade
        if self._tl is None or self.prefetch_steps is not None:
            return super()._wants_chunk(now)
        lat = math.ceil((self.latency_ema or 0.0) / self._tl.dt - _EPS)
        return self.remaining_steps(now) <= lat + self.margin_steps + self.fade_steps
