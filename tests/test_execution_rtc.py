"""The real-time-chunking executor (policy/execution/rtc.py: RealTimeChunkingExecutor) on synthetic chunks.

Properties checked: the first d steps of a new chunk's plan are the committed
actions (value for value, also when the new observation is a fraction of a
step off the plan's grid), the switch to a new chunk adds no step as long as it
arrives within the delay estimate, the blend decays exponentially onto the new
chunk, the online delay estimate settles on a synthetic delay (and follows it
down), and reset forgets plan and delays.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from being_h0_runtime.policy.execution import (
    AsyncLatencyCompensatedExecutor,
    RealTimeChunkingExecutor,
    make_executor,
    rtc_prefix_weights,
)

DT = 0.1  # the default engine's chunk step (10 Hz)
T = 16
CTL = 0.01  # 100 Hz control cycle


def ramp(obs: float, offset: float = 0.0, dims: int = 2) -> np.ndarray:
    """A chunk whose step i holds the time it is meant for (+ offset): any mix-up of steps shows."""
    t = obs + np.arange(T) * DT
    return np.stack([t + offset * (k + 1) for k in range(dims)], axis=1)


def test_weights_follow_rtc_soft_mask():
    w = rtc_prefix_weights(10, 3)
    assert w.shape == (10,)
    np.testing.assert_array_equal(w[:3], 1.0)
    c = (10 - np.arange(3, 10)) / (10 - 3 + 1)
    np.testing.assert_allclose(w[3:], c * np.expm1(c) / math.expm1(1.0))
    assert np.all(np.diff(w) <= 0) and 0 < w[-1] < 0.1 and w[3] < 1.0
    assert rtc_prefix_weights(4, 9).tolist() == [1.0] * 4  # a delay longer than the overlap freezes all of it
    assert rtc_prefix_weights(0, 2).size == 0


def test_prefix_equals_committed_actions_even_off_grid():
    ex = RealTimeChunkingExecutor()
    ex.on_chunk(ramp(0.0), 0.0, 0.0, DT)
    # executed output of the old plan at every control tick, for comparison
    committed = {round(t, 6): ex.action_at(t) for t in np.arange(0.0, 1.5, CTL)}
    obs, delay = 0.43, 0.25  # 0.43 is 0.3 of a step off the plan's grid
    ex.on_chunk(ramp(obs, offset=5.0), obs, obs + delay, DT)
    d = ex.last_prefix_steps
    assert d == math.ceil(delay / DT)  # the chunk's own delay is part of the estimate
    # from the arrival up to the end of the prefix, the output is exactly what the old plan would have sent
    prefix_end = 0.5 + d * DT  # first grid step at/after obs is 0.5
    ticks = [t for t in np.arange(obs + delay, prefix_end - 1e-9, CTL)]
    assert len(ticks) >= 10
    for t in ticks:
        np.testing.assert_array_equal(ex.action_at(t), committed[round(t, 6)], err_msg=f"t={t:.2f}")
    # after the prefix the new chunk (5 rad away) takes over gradually
    after = ex.action_at(prefix_end + 1e-6)
    assert 0 < after[0] - committed[round(prefix_end, 6)][0] < 5.0


def test_switch_is_continuous_where_async_jumps():
    """Old and new chunk disagree by 1 rad; RTC's executed steps stay small, async's switch jumps."""
    def run(ex):
        out = []
        ex.on_chunk(np.zeros((T, 1)), 0.0, 0.0, DT)
        obs, arrival = 0.4, 0.7
        for t in np.arange(0.0, 1.9, CTL):
            if abs(t - arrival) < CTL / 2:
                ex.on_chunk(np.ones((T, 1)), obs, t, DT)
            out.append(ex.action_at(t)[0])
        return np.array(out)

    asy = run(AsyncLatencyCompensatedExecutor())
    assert np.max(np.abs(np.diff(asy))) == pytest.approx(1.0)
    # the chunk arrives exactly at the end of its prefix (delay 3 steps): the step it takes over at is
    # RTC's first guided step, weight W[d] on the old plan, so the switch moves by 1 - W[d] of the gap
    rtc = run(RealTimeChunkingExecutor())
    steps = np.abs(np.diff(rtc))
    w = rtc_prefix_weights(T - 4, 3)
    assert steps.max() == pytest.approx(w[2] - w[3]) and steps.max() < 0.25
    assert rtc[-1] == pytest.approx(1.0)  # and the new chunk is reached by its end
    # one step of margin: the arrival falls inside the frozen prefix, the switch itself moves nothing
    rtc_m = run(RealTimeChunkingExecutor(margin_steps=1))
    at_arrival = int(round(0.7 / CTL))
    assert np.abs(np.diff(rtc_m))[: at_arrival + 5].max() == 0.0
    assert np.abs(np.diff(rtc_m)).max() == pytest.approx(1.0 - rtc_prefix_weights(T - 4, 4)[4])


def test_delay_estimate_settles_on_a_synthetic_delay_and_follows_it_down():
    rng = np.random.default_rng(0)
    ex = RealTimeChunkingExecutor(delay_window=8)
    obs = 0.0
    for k in range(30):
        delay = 0.32 + rng.uniform(-0.02, 0.02)  # a 0.30..0.34 s engine
        ex.on_chunk(ramp(obs), obs, obs + delay, DT)
        obs += 0.2
    assert 0.32 <= ex.delay_estimate_s <= 0.34
    assert ex.delay_steps(DT) == 4
    for k in range(8):  # the machine got faster: after one window the estimate follows
        ex.on_chunk(ramp(obs), obs, obs + 0.12, DT)
        obs += 0.2
    assert ex.delay_estimate_s == pytest.approx(0.12)
    assert ex.delay_steps(DT) == 2


def test_no_chunk_runs_backwards_and_out_of_order_chunks_are_dropped():
    ex = RealTimeChunkingExecutor()
    ex.on_chunk(ramp(0.0), 0.0, 0.05, DT)
    ex.on_chunk(ramp(0.3, offset=1.0), 0.3, 0.5, DT)
    before = ex.action_at(0.6).copy()
    ex.on_chunk(ramp(0.2, offset=9.0), 0.2, 0.6, DT)  # observed before the newest accepted chunk
    assert ex.stats["dropped_out_of_order"] == 1
    np.testing.assert_array_equal(ex.action_at(0.6), before)


def test_reset_forgets_plan_and_delays():
    ex = RealTimeChunkingExecutor(initial_delay_s=0.05)
    ex.on_chunk(ramp(0.0), 0.0, 0.4, DT)
    assert ex.delay_estimate_s == pytest.approx(0.4)
    ex.reset()
    assert ex.action_at(0.5) is None and ex.needs_inference(0.5)
    assert ex.delay_estimate_s == pytest.approx(0.05) and ex.last_prefix_steps == 0
    # after a reset the first chunk defines the plan alone: nothing of the old plan is blended in
    ex.on_chunk(ramp(0.6, offset=3.0), 0.6, 0.7, DT)
    np.testing.assert_allclose(ex.action_at(0.7), ramp(0.6, offset=3.0)[1])


def test_starved_plan_restarts_from_the_new_chunk():
    ex = RealTimeChunkingExecutor()
    ex.on_chunk(ramp(0.0), 0.0, 0.0, DT)
    assert ex.action_at(T * DT + 0.01) is None  # ran out: hold
    ex.on_chunk(ramp(1.7, offset=2.0), 1.7, 1.8, DT)
    assert ex.stats["starved_switch"] == 1
    np.testing.assert_allclose(ex.action_at(1.8), ramp(1.7, offset=2.0)[1])


def test_plan_stays_bounded_over_a_long_run_and_requests_in_time():
    ex = make_executor("rtc")
    obs = 0.0
    for k in range(500):
        ex.on_chunk(ramp(obs), obs, obs + 0.15, DT)
        obs += 0.2
    assert ex._plan.shape[0] <= T + 1
    now = obs - 0.2 + 0.15
    assert not ex.needs_inference(now)  # most of the chunk is still ahead
    assert ex.needs_inference(obs - 0.2 + (T - 2) * DT)  # delay (2 steps) + margin left


def test_bad_parameters_are_clear():
    with pytest.raises(ValueError, match="delay_window"):
        make_executor("rtc", delay_window=0)
    with pytest.raises(ValueError, match="initial_delay_s"):
        make_executor("rtc", initial_delay_s=-1.0)
    with pytest.raises(ValueError, match="execute_steps"):
        make_executor("rtc", execute_steps=0)
    ex = make_executor("rtc")
    ex.on_chunk(np.zeros((T, 3)), 0.0, 0.0, DT)
    with pytest.raises(ValueError, match="action dim"):
        ex.on_chunk(np.zeros((T, 4)), 0.1, 0.2, DT)
