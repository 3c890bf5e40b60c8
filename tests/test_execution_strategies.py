"""Chunk execution strategies on synthetic chunks driven by a simulated clock."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from being_h0_runtime.policy.execution import (
    AsyncLatencyCompensatedExecutor,
    ChunkExecutor,
    CrossFadeExecutor,
    SynchronousExecutor,
    TemporalEnsembleExecutor,
    make_executor,
    max_boundary_step,
    trajectory_jerk,
)

DT = 0.02  # chunk step (50 Hz policy)
T = 16


def ref(t: np.ndarray | float) -> np.ndarray:
    """The 'true' smooth trajectory every chunk tries to follow (3 dims)."""
    t = np.atleast_1d(np.asarray(t, dtype=float))
    return np.stack([np.sin(t), np.cos(0.7 * t), 0.3 * t], axis=1)


def simulate(
    ex: ChunkExecutor,
    *,
    latency: float,
    duration: float = 4.0,
    ctl_dt: float = DT,
    bias: float = 0.0,
    seed: int = 0,
) -> tuple[list[np.ndarray | None], list[float], list[float], list[float]]:
    """Run the executor against a fake policy with a fixed inference latency.

    Returns (actions per tick, tick times, request times, per-chunk biases).
    """
    rng = np.random.default_rng(seed)
    pending: list[tuple[float, float, np.ndarray]] = []
    out: list[np.ndarray | None] = []
    times: list[float] = []
    requests: list[float] = []
    biases: list[float] = []
    for n in range(int(round(duration / ctl_dt))):
        now = n * ctl_dt

        def deliver(now: float = now) -> None:
            for item in [p for p in pending if p[0] <= now + 1e-12]:
                pending.remove(item)
                ex.on_chunk(item[2], item[1], item[0], DT)

        deliver()
        if ex.needs_inference(now):
            ex.mark_requested(now)
            requests.append(now)
            b = float(rng.uniform(-bias, bias)) if bias else 0.0
            biases.append(b)
            pending.append((now + latency, now, ref(now + np.arange(T) * DT) + b))
            deliver()
        out.append(ex.action_at(now))
        times.append(now)
    return out, times, requests, biases


def as_traj(actions: list[np.ndarray | None]) -> np.ndarray:
    first = next(i for i, a in enumerate(actions) if a is not None)
    rest = actions[first:]
    assert all(a is not None for a in rest), "executor starved"
    return np.array(rest)


# ---------------------------------------------------------------------- sync


def test_sync_requests_every_n_steps_without_latency():
    ex = SynchronousExecutor(n_execute=8)
    acts, times, reqs, _ = simulate(ex, latency=0.0, duration=2.0)
    gaps = np.diff(reqs) / DT
    np.testing.assert_allclose(gaps, 8.0)
    assert all(a is not None for a in acts)
    # executes chunk steps 0..7 in order: equals the reference at tick time
    np.testing.assert_allclose(np.array(acts), ref(np.array(times)), atol=1e-12)


def test_sync_pauses_for_inference_latency():
    ex = SynchronousExecutor(n_execute=8)
    acts, _, reqs, _ = simulate(ex, latency=3 * DT, duration=2.2)
    gaps = np.round(np.diff(reqs) / DT)
    assert np.all(gaps == 8 + 3)  # 8 steps executed + 3 steps waiting
    none_ticks = sum(a is None for a in acts)
    assert none_ticks == 3 * len(reqs)  # waits for the first chunk too
    # default n_execute = whole chunk
    ex2 = SynchronousExecutor()
    _, _, reqs2, _ = simulate(ex2, latency=0.0, duration=1.0)
    np.testing.assert_allclose(np.diff(reqs2) / DT, T)


# --------------------------------------------------------------------- async


@pytest.mark.parametrize("lat_steps", [0, 1, 3, 5])
def test_async_starts_at_latency_matched_step_and_never_starves(lat_steps):
    latency = lat_steps * DT
    ex = AsyncLatencyCompensatedExecutor()
    acts, times, reqs, _ = simulate(ex, latency=latency, duration=4.0)
    first = next(i for i, a in enumerate(acts) if a is not None)
    assert first == lat_steps  # the first chunk arrives after one latency
    traj = as_traj(acts)
    # perfect chunks + exact compensation => we execute ref(now)
    np.testing.assert_allclose(traj, ref(np.array(times[first:])), atol=1e-9)
    assert ex.latency_ema == pytest.approx(latency)
    assert ex.current_start_step == lat_steps
    assert ex.stats["starved"] == 0
    # requests overlap execution: roughly one per (T - prefetch) steps, not T + latency
    assert np.mean(np.diff(reqs)) / DT <= T - lat_steps


def test_async_offset_uses_latency_ema():
    ex = AsyncLatencyCompensatedExecutor(ema_alpha=0.5)
    chunk = np.arange(T, dtype=float)[:, None]
    ex.on_chunk(chunk, obs_time=0.0, arrival_time=0.1, step_dt=DT)  # 5 steps late
    assert ex.current_start_step == 5
    np.testing.assert_allclose(ex.action_at(0.1), [5.0])
    # a quick one: EMA = 0.5*0.1 + 0.5*0.02 = 0.06 -> step 3
    ex.on_chunk(chunk + 100, obs_time=0.2, arrival_time=0.22, step_dt=DT)
    assert ex.latency_ema == pytest.approx(0.06)
    assert ex.current_start_step == 3
    np.testing.assert_allclose(ex.action_at(0.22), [103.0])


def test_async_drops_out_of_order_and_too_late_chunks():
    ex = AsyncLatencyCompensatedExecutor()
    c = np.zeros((T, 2))
    ex.on_chunk(c, 1.0, 1.02, DT)
    ex.on_chunk(c + 1, 0.9, 1.05, DT)  # older observation than the one running
    assert ex.stats["dropped_out_of_order"] == 1
    np.testing.assert_allclose(ex.action_at(1.06), [0.0, 0.0])
    ex2 = AsyncLatencyCompensatedExecutor()
    ex2.on_chunk(c, 0.0, 1.0, DT)  # 50 steps late: nothing left to execute
    assert ex2.stats["dropped_late"] == 1 and ex2.action_at(1.0) is None


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.floats(0.0, 0.3),  # obs increment (s)
            st.floats(0.0, 0.4),  # latency (s)
            st.floats(0.0, 0.15),  # time the loop advances after the arrival (s)
        ),
        min_size=1,
        max_size=25,
    ),
    alpha=st.floats(0.05, 1.0),
    interpolate=st.booleans(),
    crossfade=st.booleans(),
)
def test_async_never_jumps_backwards_in_time(events, alpha, interpolate, crossfade):
    """Chunks encode their own nominal times: executed values must never decrease."""
    ex: AsyncLatencyCompensatedExecutor
    if crossfade:
        ex = CrossFadeExecutor(fade_steps=3, ema_alpha=alpha, interpolate=interpolate)
    else:
        ex = AsyncLatencyCompensatedExecutor(ema_alpha=alpha, interpolate=interpolate)
    obs = 0.0
    now = 0.0
    last = -math.inf
    for d_obs, lat, adv in events:
        obs += d_obs
        arrival = max(obs + lat, now)  # arrivals are in loop order
        now = arrival
        executed = ex.last_nominal
        accepted_before = ex.stats["chunks"] - ex.stats["dropped_late"] - ex.stats["dropped_out_of_order"]
        ex.on_chunk((obs + np.arange(T) * DT)[:, None], obs, arrival, DT)
        accepted = ex.stats["chunks"] - ex.stats["dropped_late"] - ex.stats["dropped_out_of_order"]
        if accepted > accepted_before:
            i0 = ex.current_start_step
            assert i0 is not None and 0 <= i0 < T
            # starts at the latency-matched step unless that would go back in time
            want = int(round(ex.latency_ema / DT))
            if executed is not None:
                assert obs + i0 * DT >= executed - 1e-9
                assert i0 == want or obs + (i0 - 1) * DT < executed - 1e-9
            else:
                assert i0 == want
        end = now + adv
        while now <= end:
            a = ex.action_at(now)
            # plain async executes chunk values directly: they must never decrease
            # (cross-fade blends two timelines, so only the start-step rule applies)
            if a is not None and not crossfade:
                assert a[0] >= last - 1e-9, (a[0], last)
                last = float(a[0])
            now += 0.005


# --------------------------------------------------------- crossfade / ensemble


def test_crossfade_splits_chunk_jumps():
    k = 4
    hard, *_ = simulate(AsyncLatencyCompensatedExecutor(), latency=2 * DT, bias=0.2, seed=3)
    soft, *_ , biases = simulate(CrossFadeExecutor(fade_steps=k), latency=2 * DT, bias=0.2, seed=3)
    hard_step = max_boundary_step(as_traj(hard))
    soft_step = max_boundary_step(as_traj(soft))
    max_gap = float(np.max(np.abs(np.diff(biases))))
    slope = 1.0 * DT  # |d ref / dt| <= 1
    assert hard_step >= 0.5 * max_gap  # the test can see jumps
    assert soft_step <= max_gap / (k + 1) + 2 * slope + 1e-9
    assert soft_step < 0.5 * hard_step
    assert trajectory_jerk(as_traj(soft), DT) < trajectory_jerk(as_traj(hard), DT)


def test_crossfade_equals_async_without_jumps():
    a, *_ = simulate(AsyncLatencyCompensatedExecutor(), latency=2 * DT)
    c, *_ = simulate(CrossFadeExecutor(fade_steps=5), latency=2 * DT)
    np.testing.assert_allclose(as_traj(c), as_traj(a), atol=1e-12)


def test_crossfade_mid_fade_arrival_is_continuous():
    ex = CrossFadeExecutor(fade_steps=6)
    ex.on_chunk(np.zeros((T, 1)), 0.0, 0.0, DT)
    out = [ex.action_at(0.0)]
    ex.on_chunk(np.ones((T, 1)), 0.02, 0.02, DT)
    out += [ex.action_at(0.02), ex.action_at(0.04)]
    ex.on_chunk(np.full((T, 1), 2.0), 0.06, 0.06, DT)  # arrives while still fading 0 -> 1
    for n in range(3, 15):
        out.append(ex.action_at(n * DT))
    traj = np.array(out)
    # one step = one fade increment of each overlapping fade (1/7 of 0->1 plus 1/7 of ->2)
    assert max_boundary_step(traj) <= 3.0 / 7 + 1e-9
    assert traj[-1, 0] == pytest.approx(2.0)


def test_ensemble_is_exact_on_consistent_chunks_and_smooths_biased_ones():
    acts, times, _, _ = simulate(TemporalEnsembleExecutor(m=0.01), latency=2 * DT)
    traj = as_traj(acts)
    np.testing.assert_allclose(traj, ref(np.array(times[-len(traj):])), atol=1e-9)
    hard, *_ = simulate(AsyncLatencyCompensatedExecutor(), latency=2 * DT, bias=0.2, seed=5)
    ens, *_ = simulate(TemporalEnsembleExecutor(m=0.01), latency=2 * DT, bias=0.2, seed=5)
    s_hard = max_boundary_step(as_traj(hard))
    s_ens = max_boundary_step(as_traj(ens))
    assert s_ens < 0.5 * s_hard
    assert trajectory_jerk(as_traj(ens), DT) < trajectory_jerk(as_traj(hard), DT)


def test_ensemble_weights_follow_act():
    ex = TemporalEnsembleExecutor(m=0.5, query_every=4)
    ex.on_chunk(np.zeros((T, 1)), 0.0, 0.0, DT)
    ex.on_chunk(np.ones((T, 1)), DT, DT, DT)
    w0, w1 = 1.0, math.exp(-0.5)
    np.testing.assert_allclose(ex.action_at(DT), [w1 / (w0 + w1)])
    # query cadence: every 4 steps after the newest chunk's observation
    assert not ex.needs_inference(DT + 3 * DT - 1e-6)
    assert ex.needs_inference(DT + 4 * DT)
    # the first chunk expires after T steps; then only the second covers now
    np.testing.assert_allclose(ex.action_at(T * DT), [1.0])
    assert ex.action_at((T + 5) * DT) is None


# -------------------------------------------------------------- interface bits


@pytest.mark.parametrize("name", ["sync", "async", "ensemble", "crossfade", "rtc"])
def test_factory_and_common_protocol(name):
    ex = make_executor(name)
    assert ex.name == name
    assert ex.action_at(0.0) is None and ex.needs_inference(0.0)
    ex.mark_requested(0.0)
    assert not ex.needs_inference(0.0)  # one request in flight
    ex.on_chunk(np.zeros((T, 13)), 0.0, 0.01, DT)
    assert ex.action_at(0.01).shape == (13,)
    ex.reset()
    assert ex.action_at(0.02) is None
    with pytest.raises(ValueError, match="shape"):
        ex.on_chunk(np.zeros(13), 0.0, 0.0, DT)
    with pytest.raises(ValueError, match="step_dt"):
        ex.on_chunk(np.zeros((T, 13)), 0.0, 0.0, 0.0)


def test_factory_errors_are_clear():
    with pytest.raises(ValueError, match="choose one of"):
        make_executor("act")
    with pytest.raises(ValueError, match="fade_steps"):
        make_executor("crossfade", fade_steps=-1)
    with pytest.raises(ValueError, match="bad parameters"):
        make_executor("sync", fade_steps=3)
    assert isinstance(make_executor("crossfade", fade_steps=2, ema_alpha=0.2), CrossFadeExecutor)


def test_metrics():
    t = np.arange(50) * 0.1
    cubic = (t**3)[:, None]
    assert trajectory_jerk(cubic, 0.1) == pytest.approx(6.0)
    assert trajectory_jerk(np.stack([t, 2 * t], 1), 0.1) == pytest.approx(0.0, abs=1e-6)
    x = np.array([0.0, 0.1, 0.2, 1.2, 1.3])
    assert max_boundary_step(x) == pytest.approx(1.0)
    assert max_boundary_step(x, at=[1, 4]) == pytest.approx(0.1)
    assert max_boundary_step(x[:1]) == 0.0


def test_interpolation_between_steps():
    ex = SynchronousExecutor(interpolate=True)
    ex.on_chunk(np.arange(T, dtype=float)[:, None], 0.0, 0.0, DT)
    np.testing.assert_allclose(ex.action_at(2.5 * DT), [2.5])
    ex2 = SynchronousExecutor()
    ex2.on_chunk(np.arange(T, dtype=float)[:, None], 0.0, 0.0, DT)
    np.testing.assert_allclose(ex2.action_at(2.5 * DT), [2.0])


@pytest.mark.parametrize("name", ["sync", "async", "ensemble", "crossfade", "rtc"])
@pytest.mark.parametrize("step_dt", [0.0, -DT, math.inf, math.nan, 5e-324, 1e-300])
def test_bad_step_dt_is_a_value_error_never_an_overflow(name, step_dt):
    ex = make_executor(name)
    ex.on_chunk(np.zeros((T, 3)), 0.0, 0.05, DT)  # a latency estimate exists: async/crossfade divide by step_dt
    with pytest.raises(ValueError, match="step_dt"):
        ex.on_chunk(np.ones((T, 3)), 0.06, 0.07, step_dt)
    assert np.array_equal(ex.action_at(0.08), np.zeros(3)), "a refused chunk must leave the plan as it was"


@pytest.mark.parametrize("name", ["sync", "async", "ensemble", "crossfade", "rtc"])
def test_non_finite_times_are_refused(name):
    ex = make_executor(name)
    for obs, arrival in ((math.nan, 0.0), (0.0, math.inf), (-math.inf, 0.0)):
        with pytest.raises(ValueError, match="finite"):
            ex.on_chunk(np.zeros((T, 3)), obs, arrival, DT)
    assert ex.action_at(0.0) is None
