"""Real-time chunking (RTC, Black et al. 2025), executor side: blend a new chunk onto the committed plan."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from .base import _EPS, ChunkExecutor, check_action_dim, sample


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
        c = self._receive(chunk, obs_time, arrival_time, step_dt)
        if self._out_of_order(obs_time, self._obs):
            return
        plan = self._plan
        check_action_dim(c, plan)
        self._delays.append(max(arrival_time - obs_time, 0.0))
        self._obs = float(obs_time)
        ended = plan is not None and self._x(arrival_time) >= plan.shape[0] - _EPS
        if plan is None or ended or abs(step_dt - self._dt) > 1e-9 * step_dt:
            # nothing committed any more (first chunk, starved, or a different step period): the new chunk
            # alone defines the plan, on its own grid
            if ended:
                self.stats["starved_switch"] += 1
            self._plan, self._t0, self._dt = c, float(obs_time), float(step_dt)
            self.last_prefix_steps = 0
            return
        self._blend_onto_plan(plan, c, obs_time, arrival_time, step_dt)

    def _blend_onto_plan(self, plan: np.ndarray, c: np.ndarray, obs_time: float, arrival_time: float,
                         step_dt: float) -> None:
        """Resample chunk `c` onto the plan's grid from its observation on and blend the overlap (class docstring)."""
        end = obs_time + (c.shape[0] - 1) * step_dt  # time of the chunk's last step
        # the first grid step at or after the observation: plan index k, time t0 + k*dt
        k = max(math.ceil((obs_time - self._t0) / self._dt - _EPS), 0)
        n_new = math.floor((end - self._t0) / self._dt + _EPS) - k + 1
        if n_new < 1:
            self.stats["dropped_late"] += 1
            return
        grid = self._t0 + (k + np.arange(n_new)) * self._dt
        fresh = np.stack([sample(c, (t - obs_time) / step_dt, self.interpolate) for t in grid])
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
        return sample(plan, max(x, 0.0), self.interpolate)

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
