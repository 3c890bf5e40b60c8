"""Whole-graph episodes on the virtual rig under the deterministic in-process executor."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from being_h0_runtime.operator import run_episode_inproc  # noqa: E402

# rendering is not needed by the scripted expert; keep the test fast
FAST = {"virtual_rig": {"camera_rate_hz": 0, "hand_baudrate": None}}


def test_pick_and_place_episode_succeeds_through_all_nodes() -> None:
    out = run_episode_inproc("sim", seed=1, overrides=FAST)
    assert out.success, out
    states = [s for _, s in out.history]
    assert states[-3:] == ["homing", "running", "succeeded"]
    assert 3.0 < out.sim_seconds < 40.0


def test_same_seed_same_outcome_and_timing() -> None:
    a = run_episode_inproc("sim", seed=4, overrides=FAST)
    b = run_episode_inproc("sim", seed=4, overrides=FAST)
    assert (a.state, a.history) == (b.state, b.history)
    assert a.sim_seconds == b.sim_seconds


def test_episode_times_out_without_a_policy_making_progress() -> None:
    # a policy that never gets privileged state cannot act: the task must time out, not hang
    over = {**FAST, "inference": {"only_while_running": True, "replan_period_s": 100.0}}
    out = run_episode_inproc("sim", seed=0, overrides=over, time_limit_s=3.0)
    assert out.state == "timeout" and not out.success
