"""What every execution strategy shares: the chunk checks, sampling a chunk at a fractional step, the
request protocol (`ChunkExecutor`). See the package docstring for the time convention."""

from __future__ import annotations

import abc
import math
from collections import Counter

import numpy as np

_EPS = 1e-9  # in units of steps: keeps floor() stable against float noise in times
#: shortest step period accepted: below it, times divided by step_dt overflow (5e-324 gave OverflowError)
MIN_STEP_DT_S = 1e-6


def check_chunk(chunk: np.ndarray, step_dt: float, *times: float) -> np.ndarray:
    c = np.asarray(chunk, dtype=float)
    if c.ndim != 2 or c.shape[0] < 1 or c.shape[1] < 1:
        raise ValueError(f"chunk must have shape (T, D) with T, D >= 1, got {c.shape}")
    if not (math.isfinite(step_dt) and step_dt >= MIN_STEP_DT_S):
        raise ValueError(f"step_dt must be a finite number of seconds >= {MIN_STEP_DT_S:g}, got {step_dt!r}")
    if not all(math.isfinite(t) for t in times):
        raise ValueError(f"observation and arrival times must be finite, got {times}")
    return c


def sample(chunk: np.ndarray, x: float, interpolate: bool) -> np.ndarray:
    """Action at fractional step `x`, clipped to the chunk (zero-order hold or linear)."""
    t = chunk.shape[0]
    x = min(max(x, 0.0), t - 1.0)
    k = math.floor(x + _EPS)
    if not interpolate or k >= t - 1:
        return chunk[k].copy()
    f = x - k
    return chunk[k] * (1.0 - f) + chunk[k + 1] * f


class ChunkExecutor(abc.ABC):
    """Common interface; see the module docstring for the calling protocol."""

    name = "base"

    def __init__(self, interpolate: bool = False) -> None:
        self.interpolate = interpolate
        self._pending = False
        self.stats: Counter[str] = Counter()

    @abc.abstractmethod
    def on_chunk(self, chunk: np.ndarray, obs_time: float, arrival_time: float, step_dt: float) -> None:
        """A chunk computed from an observation at `obs_time` arrived at `arrival_time`."""

    @abc.abstractmethod
    def action_at(self, now: float) -> np.ndarray | None:
        """The action to command at `now`, or None if there is nothing to execute (hold)."""

    @abc.abstractmethod
    def _wants_chunk(self, now: float) -> bool: ...

    def needs_inference(self, now: float) -> bool:
        """True when the inference side should start computing the next chunk now."""
        return not self._pending and self._wants_chunk(now)

    def mark_requested(self, now: float) -> None:
        """The caller started an inference; suppresses further requests until a chunk arrives."""
        self._pending = True
        self.stats["requests"] += 1

    def cancel_request(self) -> None:
        """An inference failed or was dropped; allow asking again."""
        self._pending = False

    def _arrived(self) -> None:
        self._pending = False
        self.stats["chunks"] += 1

    def _receive(self, chunk: np.ndarray, obs_time: float, arrival_time: float, step_dt: float) -> np.ndarray:
        """Every executor's first step on a chunk: check it (ValueError), then count it as arrived."""
        c = check_chunk(chunk, step_dt, obs_time, arrival_time)
        self._arrived()
        return c

    def _out_of_order(self, obs_time: float, newest_obs: float | None) -> bool:
        """True (and counted) when a chunk was observed no later than the newest accepted one: it is dropped."""
        if newest_obs is not None and obs_time <= newest_obs:
            self.stats["dropped_out_of_order"] += 1
            return True
        return False

    def reset(self) -> None:
        """Forget all chunks (after a hold / e-stop nothing old may be executed)."""
        self._pending = False


def check_action_dim(chunk: np.ndarray, previous: np.ndarray | None) -> None:
    """A chunk's action size must not change while earlier chunks still count."""
    if previous is not None and chunk.shape[1] != previous.shape[1]:
        raise ValueError(f"chunk action dim changed from {previous.shape[1]} to {chunk.shape[1]}")
