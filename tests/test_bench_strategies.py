"""Chunk execution strategies compared on the virtual rig: metrics and a short real comparison."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from being_h0_runtime.bench import strategies


def test_boundary_step_is_measured_where_chunks_arrive_and_holds_split_segments():
    dt = 0.01
    t = list(np.arange(0, 1.0, dt))
    x = [np.array([0.001 * i]) for i in range(len(t))]
    x[50] = x[50] + 0.2  # a jump in the cycle the chunk arriving at t=0.5 took over
    for i in range(51, len(t)):
        x[i] = x[i] + 0.2
    m = strategies.trajectory_metrics(t, x, chunk_times=[0.5], window=None, dt=dt)
    assert m.max_boundary_step == pytest.approx(0.201, abs=1e-9)
    assert m.boundaries == 1 and m.commands == len(t)
    # the same jump with no chunk arriving there is not a boundary step
    assert strategies.trajectory_metrics(t, x, chunk_times=[0.3], window=None, dt=dt).max_boundary_step == \
        pytest.approx(0.001, abs=1e-9)
    # a hold (gap in commands) splits the trajectory: the resume is not a jerk spike nor a boundary step
    t2 = t[:40] + [ti + 2.0 for ti in t[40:]]
    smooth = [np.array([0.001 * i]) for i in range(len(t))]
    m2 = strategies.trajectory_metrics(t2, smooth, chunk_times=[], window=None, dt=dt)
    assert m2.jerk_rms == pytest.approx(0.0, abs=1e-6) and m2.max_boundary_step == 0.0
    # only the running window counts
    m3 = strategies.trajectory_metrics(t, x, chunk_times=[0.5], window=(0.6, 0.9), dt=dt)
    assert m3.boundaries == 0 and m3.commands == 31


def test_crossfade_stitches_chunks_more_smoothly_than_sync_under_latency(capsys):
    rows = strategies.compare(["sync", "crossfade"], seeds=[0], latency_s=0.1)
    by = {s.strategy: s for s in rows}
    for s in rows:
        assert s.episodes == 1 and s.rows[0].metrics.commands > 500 and s.rows[0].metrics.boundaries > 5
    # sync jumps to each new chunk; crossfade blends over a few steps
    assert by["crossfade"].raw_max_boundary_step < 0.5 * by["sync"].raw_max_boundary_step
    assert by["crossfade"].successes == 1
    table = strategies.format_table(rows)
    assert "sync" in table and "crossfade" in table and "bound. step" in table
