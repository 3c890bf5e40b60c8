"""Smoothness figures of an executed trajectory (the strategies bench compares executors with them)."""

from __future__ import annotations

import numpy as np


def trajectory_jerk(traj: np.ndarray, dt: float) -> float:
    """RMS jerk of an executed trajectory (N, D): third difference / dt^3, norm over dims."""
    x = np.asarray(traj, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[0] < 4:
        return 0.0
    j = np.diff(x, n=3, axis=0) / dt**3
    return float(np.sqrt(np.mean(np.sum(j * j, axis=1))))


def max_boundary_step(traj: np.ndarray, at: np.ndarray | list[int] | None = None) -> float:
    """Largest per-step change (inf-norm over dims) of a trajectory (N, D).

    With `at`, only the steps into those indices (x[i] - x[i-1]) count, e.g.
    the cycles where a new chunk took over.
    """
    x = np.asarray(traj, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[0] < 2:
        return 0.0
    d = np.max(np.abs(np.diff(x, axis=0)), axis=1)
    if at is not None:
        idx = np.asarray(at, dtype=int)
        idx = idx[(idx >= 1) & (idx < x.shape[0])]
        if idx.size == 0:
            return 0.0
        d = d[idx - 1]
    return float(d.max())
