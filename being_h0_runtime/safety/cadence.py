"""Control-loop cadence: how regular the loop really was.

A 1 kHz loop that averages 1 ms but sometimes takes 5 ms is a different
machine from one that never exceeds 1.1 ms; libfranka aborts on the latter
kind of miss. `CadenceMonitor.tick(now)` costs one array store, so it can run
inside the loop; `report()` does the statistics afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CadenceReport:
    nominal_s: float
    budget_s: float
    cycles: int
    p50_s: float
    p99_s: float
    max_s: float
    mean_s: float
    jitter_std_s: float  # std of the period
    jitter_max_s: float  # max |period - nominal|
    over_budget: int  # periods longer than budget_s
    missed: int  # periods >= 2x nominal (at least one cycle skipped)

    def format(self, label: str = "loop") -> str:
        us = 1e6
        return (
            f"{label}: {self.cycles} cycles @ {1 / self.nominal_s:.0f} Hz  period p50 {self.p50_s * us:.1f} us  "
            f"p99 {self.p99_s * us:.1f} us  max {self.max_s * us:.1f} us  jitter std {self.jitter_std_s * us:.1f} us  "
            f"max dev {self.jitter_max_s * us:.1f} us  over budget ({self.budget_s * us:.0f} us) {self.over_budget}  "
            f"missed {self.missed}"
        )


class CadenceMonitor:
    """Records one period per cycle into a preallocated buffer (oldest dropped when full)."""

    def __init__(self, period_s: float, budget_s: float | None = None, capacity: int = 1 << 20) -> None:
        if not (period_s > 0):
            raise ValueError(f"period_s must be > 0, got {period_s}")
        self.nominal_s = float(period_s)
        self.budget_s = float(budget_s) if budget_s is not None else 1.1 * self.nominal_s
        self._buf = np.empty(int(capacity))
        self._n = 0
        self._last: float | None = None

    def tick(self, now: float) -> None:
        """Call once per cycle with the cycle's start time."""
        if self._last is not None:
            self.record(now - self._last)
        self._last = now

    def record(self, period_s: float) -> None:
        self._buf[self._n % self._buf.size] = period_s
        self._n += 1

    @property
    def periods(self) -> np.ndarray:
        n = min(self._n, self._buf.size)
        if self._n <= self._buf.size:
            return self._buf[:n].copy()
        k = self._n % self._buf.size
        return np.concatenate([self._buf[k:], self._buf[:k]])

    def report(self) -> CadenceReport:
        p = self.periods
        if p.size == 0:
            nan = float("nan")
            return CadenceReport(self.nominal_s, self.budget_s, 0, nan, nan, nan, nan, nan, nan, 0, 0)
        dev = np.abs(p - self.nominal_s)
        return CadenceReport(
            nominal_s=self.nominal_s,
            budget_s=self.budget_s,
            cycles=int(p.size),
            p50_s=float(np.percentile(p, 50)),
            p99_s=float(np.percentile(p, 99)),
            max_s=float(p.max()),
            mean_s=float(p.mean()),
            jitter_std_s=float(p.std()),
            jitter_max_s=float(dev.max()),
            over_budget=int(np.count_nonzero(p > self.budget_s)),
            missed=int(np.count_nonzero(p >= 2 * self.nominal_s)),
        )
