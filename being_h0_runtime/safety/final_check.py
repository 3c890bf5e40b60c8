"""The safety filter's last steps: pull a command back inside the workspace box, then re-check every limit.

The interval arithmetic (velocity_bounds.py) is exact in reals; `outside_limits` catches what floats
did to it, so a returned command is inside every limit up to rounding or the cycle holds.
"""

from __future__ import annotations

import numpy as np

from being_h0_runtime.safety.limits import JointLimits, WorkspaceBox

#: slack of the final self-check (command units): rounding of p + v*dt, far below anything physical
_VERIFY_TOL = 5e-13
#: bisection steps of the workspace clamp (2^-40 of the step: far below anything physical)
_BISECTION_STEPS = 40


def outside_limits(lim: JointLimits, p: np.ndarray, v0: np.ndarray, cmd: np.ndarray, dt: float) -> tuple[int, ...]:
    """Dims where `cmd` leaves a limit by more than rounding (each limit as a position interval around p)."""
    if cmd.shape != p.shape or np.count_nonzero(np.isfinite(cmd)) != cmd.size:
        return tuple(range(lim.dim))
    lo = np.maximum(np.maximum(np.minimum(lim.pos_min, p), p - lim.step_max),
                    np.maximum(p - lim.vel_max * dt, p + (v0 - lim.acc_max * dt) * dt))
    hi = np.minimum(np.minimum(np.maximum(lim.pos_max, p), p + lim.step_max),
                    np.minimum(p + lim.vel_max * dt, p + (v0 + lim.acc_max * dt) * dt))
    tol = _VERIFY_TOL + 4 * np.spacing(np.abs(p) + np.abs(cmd))
    out = ~((cmd >= lo - tol) & (cmd <= hi + tol))  # `~(in)` also flags NaN bounds
    if np.count_nonzero(out):
        return tuple(int(i) for i in np.flatnonzero(out))
    return ()


def workspace_clamp(ws: WorkspaceBox, lim: JointLimits, p: np.ndarray, cmd: np.ndarray, flo: np.ndarray,
                    fhi: np.ndarray, dt: float) -> np.ndarray | None:
    """Largest alpha in [alpha_min, 1] with fk(p + alpha*delta) inside the box (bisection); None if none is."""
    k = min(ws.arm_dims, lim.dim)
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
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo_a + hi_a)
        if ws.contains(at(mid)):
            lo_a = mid
        else:
            hi_a = mid
    out = at(lo_a)
    # keep the kinematic guarantee exactly despite rounding
    out[:k] = np.clip(out[:k], p[:k] + flo[:k] * dt, p[:k] + fhi[:k] * dt)
    out = np.clip(out, np.minimum(lim.pos_min, p), np.maximum(lim.pos_max, p))
    return out if ws.contains(out) else None
