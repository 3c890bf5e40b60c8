"""The per-cycle safety filter, the motion gate and the soft start.

`Supervisor.filter` turns any target (including garbage) into either a
command that satisfies every configured limit relative to the previous
output, or a hold. It is stateless; `Supervisor.step` is the stateful
convenience a node calls once per control cycle.

How clamping works: all per-joint constraints (position box, max step,
velocity, acceleration relative to the previous output velocity, and a
braking-distance bound that keeps the *next* cycles feasible) are turned into
one interval for this cycle's velocity; the target velocity is clipped into
it. The braking bound is why clamping never paints the arm into a corner: a
joint approaching its limit is slowed early enough to stop inside it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from being_h0_runtime.safety.estop import EStopLatch, EStopResetRefused
from being_h0_runtime.safety.limits import HandLimits, JointLimits, SafetyConfig, WorkspaceBox
from being_h0_runtime.safety.watchdog import Watchdog

#: slack (in rad/s or closure/s) when deciding whether a target "violates" a
#: bound, so rounding at a limit is not reported as an intervention. Only
#: reporting uses it; the output itself is clamped exactly.
_VTOL = 1e-9

#: A control period outside this range is a bug upstream (a denormal dt turns every velocity
#: bound into an overflow, a dt of hours into "anything goes"): such a cycle holds.
MIN_DT_S = 1e-6
MAX_DT_S = 10.0
#: No joint position, closure or joint velocity of a real device is this large: a reference or a
#: previous velocity beyond it is a broken sensor or a corrupted message, never something to move from.
MAX_PLAUSIBLE = 1e6
#: slack of the final self-check (command units): rounding of p + v*dt, far below anything physical
_VERIFY_TOL = 5e-13


@dataclass(frozen=True)
class Intervention:
    """One thing the supervisor changed or refused, for counters and diagnostics."""

    kind: str  # shape | nonfinite | bad_dt | position | velocity | acceleration | step | workspace | infeasible
    action: Literal["clamp", "reject"]
    dims: tuple[int, ...] = ()
    detail: str = ""
    #: True for inputs that mean something upstream is broken (NaN, wrong shape):
    #: the gate latches these until an operator resets.
    fault: bool = False


@dataclass
class FilterResult:
    command: np.ndarray | None
    hold: bool
    interventions: list[Intervention] = field(default_factory=list)
    #: (command - reference) / dt; pass it back as `prev_vel` next cycle
    velocity: np.ndarray | None = None

    @property
    def fault(self) -> bool:
        return any(i.fault for i in self.interventions)


def _as_limits(limits: JointLimits | HandLimits | Sequence[JointLimits | HandLimits], cfg: SafetyConfig) -> JointLimits:
    parts = [limits] if isinstance(limits, (JointLimits, HandLimits)) else list(limits)
    if not parts:
        raise ValueError("Supervisor needs at least one limit set")
    m = cfg.margins
    eff: list[JointLimits] = []
    for p in parts:
        if isinstance(p, HandLimits):
            eff.append(p.as_joint_limits(margin=m.hand_closure))
        elif isinstance(p, JointLimits):
            eff.append(p.with_margins(m.position_rad, m.velocity_scale, m.acceleration_scale))
        else:
            raise TypeError(f"limits must be JointLimits or HandLimits, got {type(p).__name__}")
    out = JointLimits.concat(eff) if len(eff) > 1 else eff[0]
    if cfg.max_step_per_cycle is not None:
        cap = np.asarray(cfg.max_step_per_cycle, dtype=float)
        if cap.ndim == 1 and cap.shape != (out.dim,):
            raise ValueError(f"max_step_per_cycle: expected 1 or {out.dim} values, got {cap.shape[0]}")
        out = JointLimits(out.names, out.pos_min, out.pos_max, out.vel_max, out.acc_max, np.minimum(out.step_max, cap))
    return out


class Supervisor:
    """Safety filter for one command vector (arm joints, hand closures, or both stacked).

    Effective limits = given limits tightened by `config.margins`; modes per
    violation kind come from `config.modes`. `counters` counts interventions
    by kind plus "hold" and "cycles".
    """

    def __init__(
        self,
        limits: JointLimits | HandLimits | Sequence[JointLimits | HandLimits],
        config: SafetyConfig | None = None,
        workspace: WorkspaceBox | None = None,
    ) -> None:
        self.config = config or SafetyConfig()
        self.limits = _as_limits(limits, self.config)
        self.workspace = workspace.shrunk(self.config.margins.workspace_m) if workspace is not None else None
        self.modes = self.config.modes.model_dump()
        self.counters: Counter[str] = Counter()
        # per-joint constants for the hot path (ufunc calls on 13 floats cost ~1 us each)
        acc = self.limits.acc_max
        self._fin = np.isfinite(acc)
        self._af = np.where(self._fin, acc, 1.0)
        self._two_over_af = 2.0 / self._af
        self._inf_or_0 = np.where(self._fin, 0.0, np.inf)  # add to make "no braking" bounds infinite
        self._prev_cmd: np.ndarray | None = None
        self._prev_vel: np.ndarray | None = None
        self._prev_target: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return self.limits.dim

    # ------------------------------------------------------------ stateful use

    def reset(self) -> None:
        """Forget the previous output (next cycle starts from the measured state)."""
        self._prev_cmd = None
        self._prev_vel = None
        self._prev_target = None

    def step(self, target: np.ndarray, state_q: np.ndarray, dt: float, state_dq: np.ndarray | None = None) -> FilterResult:
        """Filter `target` relative to this supervisor's own previous output.

        After a hold the next command starts again from `state_q` (and
        `state_dq`, default zero), because the driver has stopped the robot.
        """
        prev_vel = self._prev_vel if self._prev_cmd is not None else state_dq
        tvel = None
        if self._prev_target is not None and not isinstance(target, (str, bytes)):
            try:
                t = np.asarray(target, dtype=float)
                if t.shape == self._prev_target.shape and np.all(np.isfinite(t)) and dt > 0:
                    with np.errstate(over="ignore"):
                        tvel = (t - self._prev_target) / dt
            except (TypeError, ValueError):
                pass
        res = self.filter(target, state_q, self._prev_cmd, prev_vel, dt, target_vel=tvel)
        if res.hold:
            self.reset()
        else:
            self._prev_cmd, self._prev_vel = res.command, res.velocity
            self._prev_target = np.array(target, dtype=float)
        return res

    # ----------------------------------------------------------------- filter

    def _reject(self, ivs: list[Intervention]) -> FilterResult:
        for iv in ivs:
            self.counters[iv.kind] += 1
        self.counters["hold"] += 1
        return FilterResult(None, True, ivs, None)

    def _check_vec(self, name: str, x: object) -> tuple[np.ndarray | None, Intervention | None]:
        n = self.dim
        try:
            a = np.asarray(x, dtype=float)
        except (TypeError, ValueError) as e:
            return None, Intervention("shape", "reject", (), f"{name}: not numeric ({e})", fault=True)
        if a.shape != (n,):
            return None, Intervention("shape", "reject", (), f"{name}: expected shape ({n},), got {a.shape}", fault=True)
        if np.count_nonzero(np.isfinite(a)) != n:
            bad = ~np.isfinite(a)
            return None, Intervention(
                "nonfinite", "reject", tuple(int(i) for i in np.flatnonzero(bad)), f"{name}: NaN/inf", fault=True
            )
        return a, None

    def _check_reference(self, name: str, x: object) -> tuple[np.ndarray | None, Intervention | None]:
        """Like _check_vec, and the values must be physically plausible (|x| <= MAX_PLAUSIBLE)."""
        a, iv = self._check_vec(name, x)
        if a is not None and np.count_nonzero(np.abs(a) <= MAX_PLAUSIBLE) != a.size:
            bad = tuple(int(i) for i in np.flatnonzero(~(np.abs(a) <= MAX_PLAUSIBLE)))
            return None, Intervention("implausible", "reject", bad, f"{name}: |value| > {MAX_PLAUSIBLE:g}", fault=True)
        return a, iv

    def filter(
        self,
        target: np.ndarray,
        state_q: np.ndarray,
        prev_cmd: np.ndarray | None,
        prev_vel: np.ndarray | None,
        dt: float,
        target_vel: np.ndarray | None = None,
    ) -> FilterResult:
        """Make `target` safe relative to `prev_cmd` (or `state_q` when there is none).

        Guarantees for a returned command c (reference p, previous velocity
        v0): pos_min <= c <= pos_max, |c-p| <= step_max, |c-p|/dt <= vel_max,
        |(c-p)/dt - v0|/dt <= acc_max, and fk(c) inside the workspace box.
        Exception that keeps a robot from being trapped: when p itself lies
        outside the position box, c may stay outside but never further out.
        Anything unfixable (NaN/inf, wrong shape, bad dt, reject-mode
        violation, no feasible command) gives a hold.

        `target_vel` (optional, how fast the target itself moves) only shapes
        *how* a clamped joint catches up with a moving target; it can never
        loosen a limit.

        Never raises: a dt outside [MIN_DT_S, MAX_DT_S], a reference or
        previous velocity beyond MAX_PLAUSIBLE, and (as a last line) any
        internal error give a hold with a fault; every command is re-checked
        against the limits before it is returned (a hold if rounding pushed
        it out).
        """
        self.counters["cycles"] += 1
        try:
            with np.errstate(all="ignore"):  # overflow is caught by the final check, not reported as a warning
                return self._filter(target, state_q, prev_cmd, prev_vel, dt, target_vel)
        except Exception as err:  # noqa: BLE001 - a safety filter must answer "hold", never crash the loop
            return self._reject([Intervention("internal", "reject", (), f"{type(err).__name__}: {err}", fault=True)])

    def _filter(
        self,
        target: np.ndarray,
        state_q: np.ndarray,
        prev_cmd: np.ndarray | None,
        prev_vel: np.ndarray | None,
        dt: float,
        target_vel: np.ndarray | None,
    ) -> FilterResult:
        lim = self.limits
        try:
            dt_ok = (isinstance(dt, (int, float, np.floating)) and not isinstance(dt, bool)
                     and math.isfinite(dt) and MIN_DT_S <= dt <= MAX_DT_S)
        except TypeError:
            dt_ok = False
        if not dt_ok:
            return self._reject([Intervention("bad_dt", "reject", (),
                                              f"dt must be in [{MIN_DT_S:g}, {MAX_DT_S:g}] s, got {dt!r}", fault=True)])
        dt = float(dt)

        tgt, iv = self._check_vec("target", target)
        if iv is not None:
            return self._reject([iv])
        assert tgt is not None
        if prev_cmd is not None:
            p, iv = self._check_reference("prev_cmd", prev_cmd)
        else:
            p, iv = self._check_reference("state_q", state_q)
        if iv is not None:
            return self._reject([iv])
        assert p is not None
        if prev_vel is None:
            v0 = np.zeros(self.dim)
        else:
            v0, iv = self._check_reference("prev_vel", prev_vel)
            if iv is not None:
                return self._reject([iv])
            assert v0 is not None

        # ---- position box (relaxed so a reference outside may only move back in)
        lo = np.minimum(lim.pos_min, p)
        hi = np.maximum(lim.pos_max, p)
        a = lim.acc_max
        adt = a * dt
        # ---- hard velocity interval for this cycle
        intervals = {
            "position": ((lo - p) / dt, (hi - p) / dt),
            "step": (-lim.step_max / dt, lim.step_max / dt),
            "velocity": (-lim.vel_max, lim.vel_max),
            "acceleration": (v0 - adt, v0 + adt),
        }
        pos_i, step_i, vel_i, acc_i = intervals.values()
        vlo = np.maximum(np.maximum(pos_i[0], step_i[0]), np.maximum(vel_i[0], acc_i[0]))
        vhi = np.minimum(np.minimum(pos_i[1], step_i[1]), np.minimum(vel_i[1], acc_i[1]))
        # ---- braking-distance bound: after this step we can still stop inside the box
        af = self._af
        dt2 = dt * dt
        b_hi = af * (np.sqrt(dt2 + np.maximum(hi - p, 0.0) * self._two_over_af) - dt) + self._inf_or_0
        b_lo = -af * (np.sqrt(dt2 + np.maximum(p - lo, 0.0) * self._two_over_af) - dt) - self._inf_or_0
        blo = np.maximum(vlo, b_lo)
        bhi = np.minimum(vhi, b_hi)
        use_b = blo <= bhi
        if np.count_nonzero(use_b) == use_b.size:
            flo, fhi = blo, bhi
        else:
            flo = np.where(use_b, blo, vlo)
            fhi = np.where(use_b, bhi, vhi)
        empty = flo > fhi
        if np.count_nonzero(empty):
            gap = flo - fhi
            tiny = empty & (gap <= 1e-9 * (1.0 + np.abs(flo)))
            if np.all(tiny == empty):
                mid = 0.5 * (flo + fhi)
                flo = np.where(tiny, mid, flo)
                fhi = np.where(tiny, mid, fhi)
            else:
                dims = tuple(int(i) for i in np.flatnonzero(empty & ~tiny))
                return self._reject(
                    [Intervention("infeasible", "reject", dims, "no command satisfies all limits from this state")]
                )

        # 1e308-sized garbage targets: limit the distance first so nothing overflows
        e = np.minimum(np.maximum(tgt - p, -1e6), 1e6)
        vt = e / dt
        ivs: list[Intervention] = []
        n = vt.size
        if np.count_nonzero(vt >= flo) == n and np.count_nonzero(vt <= fhi) == n:
            # fast path: inside the combined interval means inside every single one
            return self._finish(p, v0, tgt, tgt.copy(), flo, fhi, dt, ivs)
        lo_t = vt + _VTOL  # vt below a lower bound by more than the tolerance <=> lo_t < bound
        hi_t = vt - _VTOL
        for kind, (klo, khi) in intervals.items():
            viol = (lo_t < klo) | (hi_t > khi)
            if np.count_nonzero(viol):
                ivs.append(Intervention(kind, self.modes[kind], tuple(np.flatnonzero(viol).tolist())))
        # braking counts as a (position) intervention only where it is the binding bound
        bviol = use_b & (((hi_t > b_hi) & (b_hi < vhi)) | ((lo_t < b_lo) & (b_lo > vlo)))
        if np.count_nonzero(bviol) and not any(i.kind == "position" for i in ivs):
            ivs.append(
                Intervention("position", self.modes["position"], tuple(np.flatnonzero(bviol).tolist()), "braking distance")
            )
        if any(i.action == "reject" for i in ivs):
            return self._reject(ivs)

        vc = np.minimum(np.maximum(vt, flo), fhi)
        changed = vc != vt
        if np.count_nonzero(changed):
            # Where we must clamp anyway, aim to *arrive* at the target: cap the
            # speed so we can still stop on it (no overshoot on a static target).
            # With target_vel, aim at the target's motion plus a closing speed
            # (relative braking), so a lagging joint re-synchronises.
            tv = np.zeros(self.dim)
            if target_vel is not None:
                tv = np.asarray(target_vel, dtype=float)
                if tv.shape != (self.dim,) or not np.all(np.isfinite(tv)):
                    tv = np.zeros(self.dim)
                tv = np.clip(tv, -lim.vel_max, lim.vel_max)
            d = np.abs(e)
            arrive = af * (np.sqrt(dt2 + d * self._two_over_af) - dt) + self._inf_or_0
            shaped = tv + np.sign(e) * np.minimum(d / dt, arrive)
            vc = np.where(changed, np.minimum(np.maximum(shaped, flo), fhi), vt)
        cmd = np.where(changed, p + vc * dt, tgt)
        cmd = np.minimum(np.maximum(cmd, lo), hi)
        return self._finish(p, v0, tgt, cmd, flo, fhi, dt, ivs)

    def _finish(
        self,
        p: np.ndarray,
        v0: np.ndarray,
        tgt: np.ndarray,
        cmd: np.ndarray,
        flo: np.ndarray,
        fhi: np.ndarray,
        dt: float,
        ivs: list[Intervention],
    ) -> FilterResult:
        # ---- workspace: scale the arm part of the step back along the segment from p
        ws = self.workspace
        if ws is not None and not ws.contains(cmd):
            if self.modes["workspace"] == "reject":
                return self._reject(ivs + [Intervention("workspace", "reject", (), "end effector outside box")])
            cmd2 = self._workspace_clamp(p, cmd, flo, fhi, dt)
            if cmd2 is None:
                return self._reject(ivs + [Intervention("infeasible", "reject", (), "cannot stay inside workspace box")])
            ivs.append(Intervention("workspace", "clamp", (), "scaled back along the last safe command"))
            cmd = cmd2

        bad = self._outside_limits(p, v0, cmd, dt)
        if bad:
            # the interval arithmetic above is exact in reals; this catches what floats did to it
            return self._reject(ivs + [Intervention("verify", "reject", bad, "command failed the final limit check")])
        for iv in ivs:
            self.counters[iv.kind] += 1
        return FilterResult(cmd, False, ivs, (cmd - p) / dt)

    def _outside_limits(self, p: np.ndarray, v0: np.ndarray, cmd: np.ndarray, dt: float) -> tuple[int, ...]:
        """Dims where `cmd` leaves a limit by more than rounding (each limit as a position interval around p)."""
        lim = self.limits
        if cmd.shape != p.shape or np.count_nonzero(np.isfinite(cmd)) != cmd.size:
            return tuple(range(self.dim))
        lo = np.maximum(np.maximum(np.minimum(lim.pos_min, p), p - lim.step_max),
                        np.maximum(p - lim.vel_max * dt, p + (v0 - lim.acc_max * dt) * dt))
        hi = np.minimum(np.minimum(np.maximum(lim.pos_max, p), p + lim.step_max),
                        np.minimum(p + lim.vel_max * dt, p + (v0 + lim.acc_max * dt) * dt))
        tol = _VERIFY_TOL + 4 * np.spacing(np.abs(p) + np.abs(cmd))
        out = ~((cmd >= lo - tol) & (cmd <= hi + tol))  # `~(in)` also flags NaN bounds
        if np.count_nonzero(out):
            return tuple(int(i) for i in np.flatnonzero(out))
        return ()

    def _workspace_clamp(
        self, p: np.ndarray, cmd: np.ndarray, flo: np.ndarray, fhi: np.ndarray, dt: float
    ) -> np.ndarray | None:
        """Largest alpha in [alpha_min, 1] with fk(p + alpha*delta) inside the box (bisection)."""
        ws = self.workspace
        assert ws is not None
        k = min(ws.arm_dims, self.dim)
        delta = np.zeros_like(cmd)
        delta[:k] = cmd[:k] - p[:k]
        v = delta[:k] / dt
        # alpha*v must stay in [flo, fhi]; the interval is convex and contains v (alpha=1)
        amin = 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            need_pos = (v > 0) & (flo[:k] > 0)
            need_neg = (v < 0) & (fhi[:k] < 0)
            cand = np.concatenate([flo[:k][need_pos] / v[need_pos], fhi[:k][need_neg] / v[need_neg]])
        if cand.size:
            amin = float(min(1.0, cand.max()))
        base = cmd.copy()
        base[:k] = p[:k]

        def at(alpha: float) -> np.ndarray:
            return base + alpha * delta

        if not ws.contains(at(amin)):
            return None
        lo_a, hi_a = amin, 1.0
        for _ in range(40):
            mid = 0.5 * (lo_a + hi_a)
            if ws.contains(at(mid)):
                lo_a = mid
            else:
                hi_a = mid
        out = at(lo_a)
        # keep the kinematic guarantee exactly despite rounding
        out[:k] = np.clip(out[:k], p[:k] + flo[:k] * dt, p[:k] + fhi[:k] * dt)
        out = np.clip(out, np.minimum(self.limits.pos_min, p), np.maximum(self.limits.pos_max, p))
        return out if ws.contains(out) else None


# ------------------------------------------------------------------ motion gate


@dataclass(frozen=True)
class GateDecision:
    action: Literal["run", "hold"]
    reason: str
    #: True on the first "run" after any hold: the node should soft-start
    resumed: bool = False

    @property
    def run(self) -> bool:
        return self.action == "run"


class MotionGate:
    """One run/hold decision per control cycle from e-stop, faults and the watchdog.

    Priority: e-stop > latched fault > watchdog. An e-stop is also latched
    here as a fault, so resetting only the e-stop latch does not resume; the
    single way back is `operator_reset(operator)`, and after it motion still
    waits for a fresh command (the watchdog's "waiting" state).
    """

    def __init__(self, estop: EStopLatch | None = None, watchdog: Watchdog | None = None) -> None:
        self.estop = estop if estop is not None else EStopLatch()
        self.watchdog = watchdog
        self._faults: dict[str, str] = {}
        self._seen_triggers = self.estop.trigger_count
        self._was_run = False
        self.holds_by_reason: Counter[str] = Counter()

    @property
    def faults(self) -> dict[str, str]:
        return dict(self._faults)

    def fault(self, source: str, reason: str) -> None:
        """Latch a fault (driver fault, NaN command, ...) until operator_reset()."""
        self._faults[source] = reason
        if self.watchdog is not None:
            self.watchdog.fault(f"{source}: {reason}")

    def report(self, result: FilterResult, source: str = "supervisor") -> None:
        """Feed a supervisor result in: faults among its interventions latch the gate."""
        if result.fault:
            self.fault(source, "; ".join(f"{i.kind}: {i.detail}" for i in result.interventions if i.fault))

    def decide(self, now: float) -> GateDecision:
        # trigger_count also catches a trigger that was reset before we looked
        if self.estop.is_latched or self.estop.trigger_count != self._seen_triggers:
            self._seen_triggers = self.estop.trigger_count
            if "estop" not in self._faults:
                ev = self.estop.last_trigger
                self.fault("estop", f"{ev.source}: {ev.reason}" if ev else "latched")
            return self._hold("estop", f"e-stop: {self._faults['estop']}")
        if self._faults:
            src, why = next(iter(self._faults.items()))
            return self._hold("fault", f"fault ({src}): {why}; operator reset required")
        if self.watchdog is not None and self.watchdog.check(now):
            st = self.watchdog.state
            return self._hold(st, "no command yet" if st == "waiting" else f"watchdog {st}")
        resumed = not self._was_run
        self._was_run = True
        return GateDecision("run", "ok", resumed)

    def _hold(self, key: str, reason: str) -> GateDecision:
        self._was_run = False
        self.holds_by_reason[key] += 1
        return GateDecision("hold", reason)

    def operator_reset(self, operator: str, now: float | None = None) -> None:
        """Clear e-stop latch, faults and watchdog fault. Raises EStopResetRefused if not allowed."""
        if not isinstance(operator, str) or not operator.strip():
            raise EStopResetRefused("operator reset needs the operator's name")
        if self.estop.is_latched:
            self.estop.reset(operator, now)
        self._faults.clear()
        if self.watchdog is not None:
            self.watchdog.operator_reset()


# -------------------------------------------------------------------- soft start


class SoftStart:
    """Minimum-jerk ramp from the measured state to the first command.

    The duration is stretched where needed so peak velocity (1.875 d/T) and
    peak acceleration (5.7735 d/T^2) stay within the (margined) limits; the
    goal is clipped into the position box first.
    """

    def __init__(
        self, start: np.ndarray, goal: np.ndarray, t0: float, duration_s: float, limits: JointLimits
    ) -> None:
        s = np.asarray(start, dtype=float)
        g = np.asarray(goal, dtype=float)
        if s.shape != (limits.dim,) or g.shape != (limits.dim,):
            raise ValueError(f"start/goal must have shape ({limits.dim},), got {s.shape} / {g.shape}")
        if not (np.all(np.isfinite(s)) and np.all(np.isfinite(g))):
            raise ValueError("start/goal must be finite")
        if not (duration_s >= 0 and math.isfinite(duration_s)):
            raise ValueError(f"duration_s must be >= 0, got {duration_s}")
        self.start = s
        self.goal = np.clip(g, np.minimum(limits.pos_min, s), np.maximum(limits.pos_max, s))
        d = np.abs(self.goal - s)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_vel = np.nan_to_num(1.875 * d / limits.vel_max)
            t_acc = np.nan_to_num(np.sqrt(5.7735 * d / limits.acc_max))
            # hand-style per-cycle step bounds are enforced by the supervisor; not known here (no dt)
        self.t0 = t0
        self.duration = float(max(duration_s, t_vel.max(initial=0.0), t_acc.max(initial=0.0)))

    def done(self, now: float) -> bool:
        return now - self.t0 >= self.duration

    def sample(self, now: float) -> np.ndarray:
        if self.duration <= 0:
            return self.goal.copy()
        tau = min(max((now - self.t0) / self.duration, 0.0), 1.0)
        sh = tau**3 * (10 - 15 * tau + 6 * tau * tau)
        return self.start + (self.goal - self.start) * sh
