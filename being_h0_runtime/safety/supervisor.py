"""The per-cycle safety filter (`Supervisor`); the motion gate and the soft start live next to it.

`Supervisor.filter` turns any target (including garbage) into either a
command that satisfies every configured limit relative to the previous
output, or a hold. It is stateless; `Supervisor.step` is the stateful
convenience a node calls once per control cycle.

The filter's steps, in order (`Supervisor._filter`), each in its own module:

1. filter_inputs.py: a sane period, a finite target, a plausible reference and previous velocity;
2. velocity_bounds.py: every per-joint limit (position box, max step, velocity, acceleration relative
   to the previous output velocity, and a braking-distance bound that keeps the *next* cycles
   feasible) as one interval for this cycle's velocity; a target inside it passes unchanged,
   otherwise the violated limits are named and (clamp mode) the velocity is clipped into it;
3. final_check.py: the workspace box, then every limit re-checked on the final command.

The braking bound is why clamping never paints the arm into a corner: a
joint approaching its limit is slowed early enough to stop inside it.
Interventions and results (interventions.py) are what nodes count and publish.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from being_h0_runtime.safety.filter_inputs import (
    MAX_DT_S,
    MAX_PLAUSIBLE,
    MIN_DT_S,
    checked_dt,
    checked_reference,
    checked_vector,
)
from being_h0_runtime.safety.final_check import outside_limits, workspace_clamp
from being_h0_runtime.safety.gate import GateDecision, MotionGate
from being_h0_runtime.safety.interventions import FilterResult, HoldCycle, Intervention
from being_h0_runtime.safety.limits import (
    HandLimits,
    JointLimits,
    SafetyConfig,
    WorkspaceBox,
)
from being_h0_runtime.safety.soft_start import SoftStart
from being_h0_runtime.safety.velocity_bounds import (
    Braking,
    CycleBounds,
    clamped_command,
    cycle_bounds,
    distance_to_target,
)


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
        self._braking = Braking.for_limits(self.limits)  # per-joint constants for the hot path
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
        res = self.filter(target, state_q, self._prev_cmd, prev_vel, dt, target_vel=self._target_velocity(target, dt))
        if res.hold:
            self.reset()
        else:
            self._prev_cmd, self._prev_vel = res.command, res.velocity
            self._prev_target = np.array(target, dtype=float)
        return res

    def _target_velocity(self, target: object, dt: float) -> np.ndarray | None:
        """How fast the target moved since the last filtered one (None when unknown or meaningless)."""
        if self._prev_target is None or isinstance(target, (str, bytes)):
            return None
        try:
            t = np.asarray(target, dtype=float)
            if t.shape == self._prev_target.shape and np.all(np.isfinite(t)) and dt > 0:
                with np.errstate(over="ignore"):
                    return (t - self._prev_target) / dt
        except (TypeError, ValueError):
            pass
        return None

    # ----------------------------------------------------------------- filter

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
        except HoldCycle as hold:
            return self._reject(hold.interventions)
        except Exception as err:  # noqa: BLE001 - a safety filter must answer "hold", never crash the loop
            return self._reject([Intervention("internal", "reject", (), f"{type(err).__name__}: {err}", fault=True)])

    def _filter(self, target: object, state_q: object, prev_cmd: object, prev_vel: object, dt: object,
                target_vel: object) -> FilterResult:
        """The filter's steps in order; a step that cannot go on raises HoldCycle (see `filter`)."""
        dt_s = checked_dt(dt)
        tgt = checked_vector("target", target, self.dim)
        if prev_cmd is not None:
            p = checked_reference("prev_cmd", prev_cmd, self.dim)
        else:
            p = checked_reference("state_q", state_q, self.dim)
        v0 = np.zeros(self.dim) if prev_vel is None else checked_reference("prev_vel", prev_vel, self.dim)
        bounds = cycle_bounds(self.limits, self._braking, p, v0, dt_s)
        e = distance_to_target(tgt, p)
        vt = e / dt_s
        if bounds.admits(vt):
            # fast path: inside the combined interval means inside every single one
            return self._finish(bounds, v0, tgt.copy(), [])
        ivs = bounds.violations(vt, self.modes)
        if any(i.action == "reject" for i in ivs):
            return self._reject(ivs)
        cmd = clamped_command(bounds, self._braking, self.limits, tgt, e, vt, target_vel)
        return self._finish(bounds, v0, cmd, ivs)

    def _finish(self, bounds: CycleBounds, v0: np.ndarray, cmd: np.ndarray, ivs: list[Intervention]) -> FilterResult:
        """Workspace box, then the final limit check; counts the interventions of a returned command."""
        p, dt = bounds.p, bounds.dt
        ws = self.workspace
        if ws is not None and not ws.contains(cmd):
            if self.modes["workspace"] == "reject":
                return self._reject(ivs + [Intervention("workspace", "reject", (), "end effector outside box")])
            cmd2 = workspace_clamp(ws, self.limits, p, cmd, bounds.flo, bounds.fhi, dt)
            if cmd2 is None:
                return self._reject(ivs + [Intervention("infeasible", "reject", (), "cannot stay inside workspace box")])
            ivs.append(Intervention("workspace", "clamp", (), "scaled back along the last safe command"))
            cmd = cmd2
        bad = outside_limits(self.limits, p, v0, cmd, dt)
        if bad:
            # the interval arithmetic is exact in reals; this catches what floats did to it
            return self._reject(ivs + [Intervention("verify", "reject", bad, "command failed the final limit check")])
        for iv in ivs:
            self.counters[iv.kind] += 1
        return FilterResult(cmd, False, ivs, (cmd - p) / dt)

    def _reject(self, ivs: list[Intervention]) -> FilterResult:
        for iv in ivs:
            self.counters[iv.kind] += 1
        self.counters["hold"] += 1
        return FilterResult(None, True, ivs, None)


__all__ = ["MAX_DT_S", "MAX_PLAUSIBLE", "MIN_DT_S", "FilterResult", "GateDecision", "Intervention", "MotionGate",
           "SoftStart", "Supervisor"]
