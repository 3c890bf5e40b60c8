"""Property fuzzing of the supervisor: any input gives a safe command or a hold.

The claim under test (Supervisor.filter's docstring): whatever the control
period, the target, the measured state or the previous output - any float,
including 0, negative, denormal, huge, inf and NaN - each cycle yields
either

* a command that satisfies every limit relative to the reference the
  supervisor used (its previous output, or the measured state after a hold), or
* a hold that names at least one intervention (the safety event a node
  publishes),

and never an exception.

`check_command` is the oracle. It is written independently of the
supervisor's own arithmetic: every limit is turned into an interval for the
command *position* and the command must lie inside it up to 1e-12 (plus a
few ulps of the values involved), so float rounding of a correct command is
never counted while any real overshoot is.

Cases come from hypothesis (a dev dependency, imported on demand): each
example is one supervisor (arm, arm with workspace box, hand, or arm+hand
stacked; random clamp/reject modes) driven through a sequence of cycles like
a node drives it (`Supervisor.step`), with every input drawn from a mix of
plausible values and exotic floats. `scripts/fuzz_supervisor.py` runs it at
any size and prints the counts; tests/test_safety_supervisor_fuzz.py runs
10^5 cases in the suite.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from being_h0_runtime.safety.limits import (
    HandLimits,
    JointLimits,
    ModeConfig,
    SafetyConfig,
    WorkspaceBox,
    franka_fr3_limits,
)
from being_h0_runtime.safety.supervisor import FilterResult, Supervisor

#: position-space slack of the oracle (rad or closure): far below anything physical
ABS_TOL = 1e-12
LIMIT_SETS = ("arm", "arm_workspace", "hand", "arm_hand")

#: floats that broke float code before: zeros, denormals, the largest doubles, non-finite
SPECIAL_FLOATS = (0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, 1e-12, 1e12, 1e300,
                  -1e300, 1.7976931348623157e308, -1.7976931348623157e308, math.inf, -math.inf, math.nan)


def _ready_q() -> np.ndarray:
    from being_h0_runtime.rig import READY_Q

    return np.asarray(READY_Q, dtype=float)


def make_supervisor(kind: str, modes: dict[str, str] | None = None,
                    max_step: float | None = None) -> tuple[Supervisor, np.ndarray]:
    """A supervisor of one of LIMIT_SETS and a nominal state for it (arm at its ready pose, hand half closed)."""
    cfg = SafetyConfig(modes=ModeConfig(**(modes or {})), max_step_per_cycle=max_step)
    arm, hand = franka_fr3_limits(), HandLimits(max_step=0.05)
    if kind == "arm":
        return Supervisor(arm, cfg), _ready_q()
    if kind == "arm_workspace":
        from being_h0_runtime.rig.franka import dh_fk

        box = WorkspaceBox(np.array([0.15, -0.6, 0.05]), np.array([0.85, 0.6, 0.9]), fk=lambda q: dh_fk(q)[:3, 3])
        return Supervisor(arm, cfg, box), _ready_q()
    if kind == "hand":
        return Supervisor(hand, cfg), np.full(6, 0.5)
    if kind == "arm_hand":
        return Supervisor([arm, hand], cfg), np.concatenate([_ready_q(), np.full(6, 0.5)])
    raise ValueError(f"unknown limit set {kind!r}; choose one of {LIMIT_SETS}")


def check_command(sup: Supervisor, p: np.ndarray, v0: np.ndarray, dt: float, res: FilterResult) -> str | None:
    """None if `res` keeps the supervisor's promise for reference `p`, previous velocity `v0` and period `dt`."""
    if res.hold or res.command is None:
        if not res.interventions:
            return "hold without a safety event (no intervention named)"
        return None
    c = np.asarray(res.command, dtype=float)
    lim: JointLimits = sup.limits
    if c.shape != (lim.dim,):
        return f"command shape {c.shape}, expected ({lim.dim},)"
    if not np.all(np.isfinite(c)):
        return f"non-finite command {c}"
    if not (isinstance(dt, (int, float, np.floating)) and math.isfinite(dt) and dt > 0):
        return f"a command was produced for dt={dt!r}"
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(v0))):
        return "a command was produced from a non-finite reference"
    with np.errstate(all="ignore"):
        tol = ABS_TOL + 8 * np.spacing(np.abs(p) + np.abs(c))
        bounds = {
            "position": (np.minimum(lim.pos_min, p), np.maximum(lim.pos_max, p)),
            "step": (p - lim.step_max, p + lim.step_max),
            "velocity": (p - lim.vel_max * dt, p + lim.vel_max * dt),
            "acceleration": (p + (v0 - lim.acc_max * dt) * dt, p + (v0 + lim.acc_max * dt) * dt),
        }
        for name, (lo, hi) in bounds.items():
            lo = np.where(np.isnan(lo), -np.inf, lo)  # inf limits times 0 -> no bound
            hi = np.where(np.isnan(hi), np.inf, hi)
            bad = (c < lo - tol) | (c > hi + tol)
            if np.any(bad):
                i = int(np.flatnonzero(bad)[0])
                return (f"{name} violated at dim {i}: command {c[i]!r} outside [{lo[i]!r}, {hi[i]!r}] "
                        f"(reference {p[i]!r}, v0 {v0[i]!r}, dt {dt!r})")
    if sup.workspace is not None and not sup.workspace.contains(c):
        return "end effector outside the workspace box"
    return None


@dataclass
class FuzzCounts:
    cases: int = 0
    commands: int = 0
    holds: int = 0
    violations: int = 0
    escapes: int = 0
    #: holds whose intervention is the supervisor's own catch-all for an unexpected error (should stay 0)
    internal_errors: int = 0
    examples: list[str] = field(default_factory=list)

    def note(self, what: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(what)

    def summary(self) -> str:
        return (f"cases {self.cases}  commands {self.commands}  holds {self.holds}  violations {self.violations}  "
                f"escapes {self.escapes}  internal errors {self.internal_errors}")


#: what an injection replaces in one cycle
FIELDS = ("dt", "target", "target_abs", "state", "state_set", "dq")


@dataclass
class Episode:
    """One supervisor driven through `steps` cycles: a plausible stream plus exotic injections.

    The stream (targets wandering around the nominal state, a fixed period) comes from a
    numpy generator seeded by `seed`; hypothesis chooses everything that matters for
    breaking things: the limit set, modes, the period, the stream's size and every
    injected value with where it goes. This keeps drawing cheap, so 10^5 cycles fit a test.
    """

    kind: str
    modes: dict[str, str]
    max_step: float | None
    dt: float
    seed: int
    amplitude: float  # stream target offsets are uniform in +-amplitude
    state_noise: float  # measured state = last command + uniform(+-state_noise)
    steps: int
    #: (cycle, field in FIELDS, dim or -1 for all dims, value)
    injections: list[tuple[int, str, int, float]] = field(default_factory=list)


def _inject(items: Iterable[tuple[str, int, float]], n: int, nominal: np.ndarray, tgt: np.ndarray,
            measured: np.ndarray, dq: np.ndarray | None, dt: float) -> tuple[float, np.ndarray | None]:
    """Apply one cycle's injected values to its target and measured state (in place), velocity or dt."""
    for fld, dim, value in items:
        sel = slice(None) if dim < 0 or dim >= n else dim
        if fld == "dt":
            dt = value
        elif fld == "target":
            tgt[sel] = nominal[sel] + value
        elif fld == "target_abs":
            tgt[sel] = value
        elif fld == "state":
            measured[sel] = measured[sel] + value
        elif fld == "state_set":
            measured[sel] = value
        else:
            dq = np.zeros(n) if dq is None else dq
            dq[sel] = value
    return dt, dq


def run_episode(ep: Episode, counts: FuzzCounts) -> None:
    """Drive one supervisor like a node does and check every cycle with the oracle."""
    sup, nominal = make_supervisor(ep.kind, ep.modes, ep.max_step)
    n = sup.dim
    rng = np.random.default_rng(ep.seed)
    by_cycle: dict[int, list[tuple[str, int, float]]] = {}
    for k, fld, dim, value in ep.injections:
        by_cycle.setdefault(k, []).append((fld, dim, value))
    measured = nominal.copy()
    prev_cmd: np.ndarray | None = None
    prev_vel: np.ndarray | None = None
    with np.errstate(all="ignore"):
        for k in range(ep.steps):
            dt = ep.dt
            tgt = nominal + rng.uniform(-ep.amplitude, ep.amplitude, n)
            measured = measured + rng.uniform(-ep.state_noise, ep.state_noise, n)
            dq: np.ndarray | None = rng.uniform(-0.5, 0.5, n) if rng.random() < 0.3 else None
            dt, dq = _inject(by_cycle.get(k, ()), n, nominal, tgt, measured, dq, dt)
            # what the supervisor must measure against (its documented behaviour, tracked from outside)
            if prev_cmd is not None:
                p, v0 = prev_cmd, prev_vel
            else:
                p, v0 = measured.copy(), (dq.copy() if dq is not None else np.zeros(n))
            counts.cases += 1
            try:
                res = sup.step(tgt, measured, dt, dq)
            except Exception as err:  # noqa: BLE001 - an escape is exactly what we count
                counts.escapes += 1
                counts.note(f"escape {type(err).__name__}: {err} (kind {ep.kind}, dt {dt!r})")
                prev_cmd = prev_vel = None
                continue
            if any(iv.kind == "internal" for iv in res.interventions):
                counts.internal_errors += 1
                counts.note(f"internal error: {[iv.detail for iv in res.interventions]}")
            why = check_command(sup, np.asarray(p, dtype=float), np.asarray(v0, dtype=float), dt, res)
            if why is not None:
                counts.violations += 1
                counts.note(f"{ep.kind}: {why}")
            if res.hold or res.command is None:
                counts.holds += 1
                prev_cmd = prev_vel = None
            else:
                counts.commands += 1
                c = np.asarray(res.command, dtype=float)
                prev_vel = (c - p) / dt  # independent of the supervisor's own bookkeeping
                prev_cmd = c
                measured = c.copy()  # a perfect plant (plus the stream's noise next cycle)


# ------------------------------------------------------------------ hypothesis strategies


def episodes(steps: int = 100) -> Any:
    """Hypothesis strategy for `Episode`s of `steps` cycles (needs the dev extra: hypothesis)."""
    from hypothesis import strategies as st

    any_float = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
    special = st.sampled_from(SPECIAL_FLOATS)
    nominal_dt = st.sampled_from((0.001, 0.01, 0.02, 0.002))
    value = st.one_of(special, any_float, st.floats(-5.0, 5.0), st.floats(-1e-3, 1e-3))
    # tiny positive periods: each division by them overflows differently
    tiny = st.sampled_from((5e-324, 1e-320, 1e-310, 2.2250738585072014e-308, 1e-300, 1e-200, 1e-15, 1e-9))
    dt_value = st.one_of(tiny, special, any_float, st.floats(1e-8, 20.0), nominal_dt)
    mode = st.sampled_from(("clamp", "clamp", "clamp", "reject"))
    injection = st.tuples(st.integers(0, steps - 1), st.sampled_from(FIELDS), st.integers(-1, 12),
                          value).flatmap(
        lambda t: st.just(t) if t[1] != "dt" else dt_value.map(lambda v, t=t: (t[0], t[1], t[2], v)))

    @st.composite
    def build(draw: Any) -> Episode:
        return Episode(
            kind=draw(st.sampled_from(LIMIT_SETS)),
            modes={k: draw(mode) for k in ("position", "velocity", "acceleration", "step", "workspace")},
            max_step=draw(st.one_of(st.none(), st.floats(1e-4, 0.5))),
            dt=draw(st.integers(0, 3).flatmap(lambda i: dt_value if i == 3 else nominal_dt)),  # 1 in 4 exotic
            seed=draw(st.integers(0, 2**32 - 1)),
            amplitude=draw(st.sampled_from((0.0, 0.001, 0.02, 0.2, 2.0))),
            state_noise=draw(st.sampled_from((0.0, 0.0, 1e-4, 0.01))),
            steps=steps,
            injections=draw(st.lists(injection, max_size=12)),
        )

    return build()


def fuzz(cases: int, steps: int = 100, seed: int | None = None, derandomize: bool = False) -> FuzzCounts:
    """Run at least `cases` supervisor cycles drawn by hypothesis; returns the counts (never raises on findings)."""
    from hypothesis import HealthCheck, Phase, given, seed as hseed, settings

    counts = FuzzCounts()
    examples = max(1, math.ceil(cases / steps))

    @settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck), phases=(Phase.explicit, Phase.generate))
    @given(ep=episodes(steps))
    def run(ep: Episode) -> None:
        run_episode(ep, counts)

    if seed is not None:
        run = hseed(seed)(run)
    run()
    return counts
