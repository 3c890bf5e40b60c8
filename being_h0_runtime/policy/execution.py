"""How an action chunk becomes one action per control cycle.

The policy returns a chunk of T future actions, but inference takes time and
chunks overlap. These executors decide which action to send *now* and when
the inference side should ask for the next chunk. They are pure functions of
the times they are given (no clock of their own), so the same code runs on a
sim clock, in tests and on the rig.

Time convention: `chunk[i]` is the action meant for time
`obs_time + i * step_dt`, i.e. step 0 is "at the observation". A chunk that
arrives `L` seconds after its observation therefore starts around step
`L / step_dt`.

Protocol for the caller (inference node)::

    if ex.needs_inference(now):
        ex.mark_requested(now)          # optional; stops duplicate requests
        ... later: ex.on_chunk(chunk, obs_time, arrival_time, step_dt)
    a = ex.action_at(now)               # None -> nothing to execute: hold

Actions go to the safety supervisor afterwards; nothing here is a safety
mechanism.
"""

from __future__ import annotations

import abc
import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_EPS = 1e-9  # in units of steps: keeps floor() stable against float noise in times
#: shortest step period accepted: below it, times divided by step_dt overflow (5e-324 gave OverflowError)
MIN_STEP_DT_S = 1e-6


def _check_chunk(chunk: np.ndarray, step_dt: float, *times: float) -> np.ndarray:
    c = np.asarray(chunk, dtype=float)
    if c.ndim != 2 or c.shape[0] < 1 or c.shape[1] < 1:
        raise ValueError(f"chunk must have shape (T, D) with T, D >= 1, got {c.shape}")
    if not (math.isfinite(step_dt) and step_dt >= MIN_STEP_DT_S):
        raise ValueError(f"step_dt must be a finite number of seconds >= {MIN_STEP_DT_S:g}, got {step_dt!r}")
    if not all(math.isfinite(t) for t in times):
        raise ValueError(f"observation and arrival times must be finite, got {times}")
    return c


def _sample(chunk: np.ndarray, x: float, interpolate: bool) -> np.ndarray:
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

    def reset(self) -> None:
        """Forget all chunks (after a hold / e-stop nothing old may be executed)."""
        self._pending = False


# ------------------------------------------------------------------ synchronous


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
        c = _check_chunk(chunk, step_dt, obs_time, arrival_time)
        self._arrived()
        self._chunk, self._start, self._dt = c, float(arrival_time), float(step_dt)
        self._n = min(self.n_execute or c.shape[0], c.shape[0])

    def action_at(self, now: float) -> np.ndarray | None:
        if self._chunk is None:
            return None
        x = max((now - self._start) / self._dt, 0.0)
        if x >= self._n - _EPS:
            return None
        return _sample(self._chunk[: self._n], x, self.interpolate)

    def _wants_chunk(self, now: float) -> bool:
        return self._chunk is None or (now - self._start) / self._dt >= self._n - _EPS


# ------------------------------------------------------ async latency compensated


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
        self._arrived()
        self._update_latency(obs_time, arrival_time)
        if self._tl is not None and obs_time <= self._tl.obs:
            self.stats["dropped_out_of_order"] += 1
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
        c = _check_chunk(chunk, step_dt, obs_time, arrival_time)
        tl = self._accept(c, obs_time, arrival_time, step_dt)
        if tl is not None:
            self._tl = tl

    def _play(self, tl: _Timeline, now: float) -> np.ndarray:
        nominal = tl.nominal(now, self.interpolate)
        if self.last_nominal is None or nominal > self.last_nominal:
            self.last_nominal = nominal
        return _sample(tl.chunk, tl.x(now), self.interpolate)

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


# ------------------------------------------------------------------ cross-fade


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
        return lambda now: _sample(tl.chunk, tl.x(now), self.interpolate)

    def on_chunk(self, chunk: np.ndarray, obs_time: float, arrival_time: float, step_dt: float) -> None:
        c = _check_chunk(chunk, step_dt, obs_time, arrival_time)
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


# ------------------------------------------------------------ temporal ensemble


class TemporalEnsembleExecutor(ChunkExecutor):
    """ACT-style temporal ensembling over every chunk that covers `now`.

    Each chunk k predicted step i = floor((now - obs_k)/dt) for now; the
    output is the weighted mean with weights exp(-m * j), j = 0 for the
    oldest chunk (as in ACT: smaller m reacts faster to new chunks). A new
    chunk is requested every `query_every` steps.
    """

    name = "ensemble"

    def __init__(self, m: float = 0.01, query_every: int = 1, max_chunks: int = 64, interpolate: bool = False) -> None:
        super().__init__(interpolate)
        if not (m >= 0 and math.isfinite(m)):
            raise ValueError(f"m must be >= 0, got {m}")
        if query_every < 1:
            raise ValueError(f"query_every must be >= 1, got {query_every}")
        self.m = m
        self.query_every = query_every
        self.max_chunks = max_chunks
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._chunks: list[tuple[np.ndarray, float, float]] = []  # (chunk, obs, dt), oldest first

    def on_chunk(self, chunk: np.ndarray, obs_time: float, arrival_time: float, step_dt: float) -> None:
        c = _check_chunk(chunk, step_dt, obs_time, arrival_time)
        self._arrived()
        if self._chunks and obs_time <= self._chunks[-1][1]:
            self.stats["dropped_out_of_order"] += 1
            return
        if self._chunks and c.shape[1] != self._chunks[-1][0].shape[1]:
            raise ValueError(f"chunk action dim changed from {self._chunks[-1][0].shape[1]} to {c.shape[1]}")
        self._chunks.append((c, float(obs_time), float(step_dt)))
        if len(self._chunks) > self.max_chunks:
            self._chunks.pop(0)

    def action_at(self, now: float) -> np.ndarray | None:
        # drop chunks that ended; keep ones that have not started (now < obs cannot happen in practice)
        self._chunks = [e for e in self._chunks if (now - e[1]) / e[2] < e[0].shape[0] - _EPS]
        acc = None
        wsum = 0.0
        j = 0
        for c, obs, dt in self._chunks:
            x = (now - obs) / dt
            if x < -_EPS:
                continue
            w = math.exp(-self.m * j)
            j += 1
            a = _sample(c, x, self.interpolate)
            acc = a * w if acc is None else acc + a * w
            wsum += w
        if acc is None:
            return None
        return acc / wsum

    def _wants_chunk(self, now: float) -> bool:
        if not self._chunks:
            return True
        _, obs, dt = self._chunks[-1]
        return (now - obs) / dt >= self.query_every - _EPS


# ------------------------------------------------------- real-time chunking


def rtc_prefix_weights(n_overlap: int, d: int) -> np.ndarray:
    """Weights on the *old* plan for the first `n_overlap` steps of a new chunk (RTC's soft mask).

    As in Black et al. 2025 (eq. 5, with H - s = n_overlap): 1 for the first
    `d` steps (frozen: the inference delay), then c * (e^c - 1) / (e - 1) with
    c = (n_overlap - i) / (n_overlap - d + 1), decaying to 0 where the old
    plan ends. Beyond the overlap the new chunk alone counts (weight 0).
    """
    n = max(int(n_overlap), 0)
    d = min(max(int(d), 0), n)
    w = np.zeros(n)
    w[:d] = 1.0
    if n > d:
        i = np.arange(d, n, dtype=float)
        c = (n - i) / (n - d + 1.0)
        w[d:] = c * np.expm1(c) / math.expm1(1.0)
    return w


class RealTimeChunkingExecutor(ChunkExecutor):
    """Real-time chunking (RTC, Black et al. 2025), executor side, for a policy that cannot be guided.

    What RTC does in the paper: while chunk k+1 is computed from an
    observation, the robot keeps executing chunk k for the `d` steps the
    inference takes (d = the inference delay in steps). The flow-matching
    policy then *inpaints* chunk k+1: at every denoising step its velocity is
    guided (pseudo-inverse guidance) towards the still-to-run part of chunk k
    with soft weights - 1 on the first d steps (frozen: those actions are
    already committed and will run whatever the new chunk says), then
    exponentially decaying to 0 at the end of chunk k's overlap. The model
    thereby produces a chunk that *itself* continues the committed prefix and
    stays consistent with the old plan's intent.

    What this executor does instead (the engines here regress a chunk in one
    forward pass, there is no denoising loop to guide): it applies the same
    weights *after* inference, to the actions rather than to the generation.
    The executed plan lives on one fixed grid of step times; when a chunk
    observed at `obs` arrives, the new plan over obs, obs+dt, ... is

        plan[i] = W[i] * committed[i] + (1 - W[i]) * chunk[i],
        W = rtc_prefix_weights(n_overlap, d)

    where `committed` is the plan being executed (its values at those step
    times), `n_overlap` the number of steps it still covers, and d the
    *estimated* delay in steps. So the first d steps are exactly the committed
    actions (nothing already promised to the robot changes; a chunk that
    arrives before its prefix ends switches without any step, one that
    arrives exactly at step d moves by (1 - W[d]) of the disagreement, as
    RTC's first guided step does), and the remaining overlap bends smoothly
    from the old plan onto the new one. What it cannot do: the new chunk's own actions were not
    generated conditioned on the prefix, so where old and new disagree the
    blend is a weighted mean of two plans (it may pass between two grasp
    approaches), not a single coherent inpainted plan; and no information
    flows back into the policy.

    Delay estimate: online, from each chunk's arrival time minus its
    observation stamp, d = ceil(max of the last `delay_window` delays / dt)
    (+ `margin_steps`). The maximum is deliberately conservative: over-
    estimating d freezes a few more committed steps, under-estimating lets
    the new chunk take over at steps the robot already executed (a jump of
    (1 - W) * difference). The arriving chunk's own delay is known when it is
    blended and is part of the window, so unlike the paper (which must fix d
    before inference starts) the prefix here always covers every step
    executed while it was computed. Before the first chunk `initial_delay_s`
    is used.

    The plan's grid is set by the first chunk after a reset (or after the
    plan ran out); later chunks are resampled onto it (their step times can
    be any fraction of a step off), so the committed prefix is reproduced
    value for value. Chunks observed no later than the newest accepted one
    are dropped (out of order). A new chunk is wanted when the plan has at
    most d + margin_steps steps left, or `execute_steps` steps after the
    newest observation (RTC's execution horizon s) when that is set.
    """

    name = "rtc"

    def __init__(
        self,
        delay_window: int = 10,
        initial_delay_s: float = 0.0,
        margin_steps: int = 0,
        execute_steps: int | None = None,
        interpolate: bool = False,
    ) -> None:
        super().__init__(interpolate)
        if delay_window < 1:
            raise ValueError(f"delay_window must be >= 1, got {delay_window}")
        if not (math.isfinite(initial_delay_s) and initial_delay_s >= 0):
            raise ValueError(f"initial_delay_s must be a finite number >= 0, got {initial_delay_s}")
        if margin_steps < 0:
            raise ValueError(f"margin_steps must be >= 0, got {margin_steps}")
        if execute_steps is not None and execute_steps < 1:
            raise ValueError(f"execute_steps must be >= 1, got {execute_steps}")
        self.delay_window = delay_window
        self.initial_delay_s = float(initial_delay_s)
        self.margin_steps = margin_steps
        self.execute_steps = execute_steps
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._plan: np.ndarray | None = None  # (N, D) actions at grid times t0 + i * dt
        self._t0 = 0.0
        self._dt = 1.0
        self._obs = -math.inf  # observation stamp of the newest accepted chunk
        self._delays: deque[float] = deque(maxlen=self.delay_window)
        #: the prefix length (steps) used for the newest chunk, for diagnostics and tests
        self.last_prefix_steps = 0

    # -- delay ---------------------------------------------------------------------
    @property
    def delay_estimate_s(self) -> float:
        """Conservative inference delay (s): the largest of the recent observation -> arrival delays."""
        return max(self._delays) if self._delays else self.initial_delay_s

    def delay_steps(self, step_dt: float) -> int:
        """The estimated delay in steps of `step_dt` (at least 0), plus the margin."""
        return max(math.ceil(self.delay_estimate_s / step_dt - _EPS), 0) + self.margin_steps

    # -- chunks --------------------------------------------------------------------
    def _x(self, now: float) -> float:
        return (now - self._t0) / self._dt

    def on_chunk(self, chunk: np.ndarray, obs_time: float, arrival_time: float, step_dt: float) -> None:
        c = _check_chunk(chunk, step_dt, obs_time, arrival_time)
        self._arrived()
        if obs_time <= self._obs:
            self.stats["dropped_out_of_order"] += 1
            return
        plan = self._plan
        if plan is not None and c.shape[1] != plan.shape[1]:
            raise ValueError(f"chunk action dim changed from {plan.shape[1]} to {c.shape[1]}")
        self._delays.append(max(arrival_time - obs_time, 0.0))
        self._obs = float(obs_time)
        end = obs_time + (c.shape[0] - 1) * step_dt  # time of the chunk's last step
        ended = plan is not None and self._x(arrival_time) >= plan.shape[0] - _EPS
        if plan is None or ended or abs(step_dt - self._dt) > 1e-9 * step_dt:
            # nothing committed any more (first chunk, starved, or a different step period): the new chunk
            # alone defines the plan, on its own grid
            if ended:
                self.stats["starved_switch"] += 1
            self._plan, self._t0, self._dt = c, float(obs_time), float(step_dt)
            self.last_prefix_steps = 0
            return
        # the first grid step at or after the observation: plan index k, time t0 + k*dt
        k = max(math.ceil((obs_time - self._t0) / self._dt - _EPS), 0)
        n_new = math.floor((end - self._t0) / self._dt + _EPS) - k + 1
        if n_new < 1:
            self.stats["dropped_late"] += 1
            return
        grid = self._t0 + (k + np.arange(n_new)) * self._dt
        fresh = np.stack([_sample(c, (t - obs_time) / step_dt, self.interpolate) for t in grid])
        n_overlap = min(max(plan.shape[0] - k, 0), n_new)
        # the committed prefix: grid steps before obs + d*dt (those run while the chunk is computed)
        d = math.ceil((obs_time + self.delay_steps(step_dt) * step_dt - grid[0]) / self._dt - _EPS)
        w = rtc_prefix_weights(n_overlap, d)[:, None]
        fresh[:n_overlap] = w * plan[k:k + n_overlap] + (1.0 - w) * fresh[:n_overlap]
        # keep one step of the plan before the observation (now may still fall between it and grid[0]);
        # everything earlier has been executed and is dropped, so the plan stays bounded over a long run
        keep = max(k - 1, 0)
        self._plan = np.concatenate([plan[keep:k], fresh])
        self._t0 += keep * self._dt
        self.last_prefix_steps = min(max(d, 0), n_overlap)
        if arrival_time >= grid[0] + (self.last_prefix_steps + _EPS) * self._dt and self.last_prefix_steps < n_overlap:
            self.stats["arrived_after_prefix"] += 1  # the delay exceeded the estimate: the switch may step

    def action_at(self, now: float) -> np.ndarray | None:
        plan = self._plan
        if plan is None:
            return None
        x = self._x(now)
        if x >= plan.shape[0] - _EPS:
            self.stats["starved"] += 1
            return None
        return _sample(plan, max(x, 0.0), self.interpolate)

    def remaining_steps(self, now: float) -> float:
        if self._plan is None:
            return 0.0
        return max(self._plan.shape[0] - math.floor(max(self._x(now), 0.0) + _EPS), 0)

    def _wants_chunk(self, now: float) -> bool:
        if self._plan is None:
            return True
        if self.execute_steps is not None and (now - self._obs) / self._dt >= self.execute_steps - _EPS:
            return True
        return self.remaining_steps(now) <= self.delay_steps(self._dt) + max(self.margin_steps, 1)


# ----------------------------------------------------------------- factory


_EXECUTORS: dict[str, type[ChunkExecutor]] = {
    "sync": SynchronousExecutor,
    "async": AsyncLatencyCompensatedExecutor,
    "ensemble": TemporalEnsembleExecutor,
    "crossfade": CrossFadeExecutor,
    "rtc": RealTimeChunkingExecutor,
}


def make_executor(name: str, **params: object) -> ChunkExecutor:
    """Build an executor by name: "sync", "async", "ensemble", "crossfade" or "rtc"."""
    try:
        cls = _EXECUTORS[name]
    except KeyError:
        raise ValueError(f"unknown execution strategy {name!r}; choose one of {sorted(_EXECUTORS)}") from None
    try:
        return cls(**params)  # type: ignore[arg-type]
    except TypeError as e:
        raise ValueError(f"execution strategy {name!r}: bad parameters {sorted(params)}: {e}") from None


# ----------------------------------------------------------------- metrics


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
