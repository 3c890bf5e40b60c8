"""The supervisor answers every input with a safe command or a hold with a safety event, never an exception.

The property test drives 10^5 hypothesis-generated cycles (dt of any float including 0, negative,
denormal, inf and NaN; references, previous velocities and targets of any magnitude) through the
four limit sets a node uses and checks each output with an oracle written independently of the
supervisor's arithmetic (being_h0_runtime/safety/fuzz.py). NumPy warnings count as escapes too.
`scripts/fuzz_supervisor.py --cases N` runs the same at any size.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pytest

from being_h0_runtime.safety import HandLimits, SafetyConfig, Supervisor, franka_fr3_limits
from being_h0_runtime.safety.fuzz import FuzzCounts, check_command, fuzz
from being_h0_runtime.safety.supervisor import MAX_DT_S, MIN_DT_S
from being_h0_runtime.rig import READY_Q

READY = np.array(READY_Q)
CASES = 100_000


@pytest.mark.slow
def test_hundred_thousand_fuzzed_cycles_no_violation_no_escape() -> None:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning inside the loop is an escape as well
        counts = fuzz(CASES, derandomize=True)
    elapsed = time.perf_counter() - t0
    print(f"\nsupervisor fuzz: {counts.summary()} in {elapsed:.1f} s")
    assert counts.cases >= CASES
    assert counts.escapes == 0, counts.examples
    assert counts.violations == 0, counts.examples
    assert counts.internal_errors == 0, counts.examples
    # the generator must exercise both outcomes, or the property says little
    assert counts.commands > CASES // 4 and counts.holds > CASES // 20


EXOTIC_DT = [0.0, -0.0, -0.01, 5e-324, 1e-320, 2.2250738585072014e-308, 1e-300, MIN_DT_S / 2, MAX_DT_S * 2,
             1e300, math.inf, -math.inf, math.nan]


@pytest.mark.parametrize("dt", EXOTIC_DT, ids=repr)
@pytest.mark.parametrize("kind", ["arm", "hand"])
def test_exotic_dt_holds_with_a_bad_dt_event(dt: float, kind: str) -> None:
    if kind == "arm":
        sup, q = Supervisor(franka_fr3_limits()), READY
    else:
        sup, q = Supervisor(HandLimits()), np.full(6, 0.5)
    moving = Supervisor(franka_fr3_limits() if kind == "arm" else HandLimits())
    first = moving.step(q + 0.001, q, 0.01, np.full(q.size, 0.05))  # leave a previous output and velocity behind
    assert not first.hold
    for s in (sup, moving):
        res = s.step(q + 0.3, q, dt)
        assert res.hold and res.command is None
        assert [iv.kind for iv in res.interventions] == ["bad_dt"] and res.fault


@pytest.mark.parametrize("magnitude", [1e7, 1e300, 1.7976931348623157e308])
def test_implausible_reference_or_velocity_holds_with_a_fault(magnitude: float) -> None:
    sup = Supervisor(franka_fr3_limits())
    q = READY.copy()
    q[2] = magnitude
    res = sup.filter(READY, q, None, None, 0.01)
    assert res.hold and res.fault and res.interventions[0].kind == "implausible" and res.interventions[0].dims == (2,)
    res = sup.filter(READY, READY, None, np.full(7, -magnitude), 0.01)
    assert res.hold and res.fault and res.interventions[0].kind == "implausible"


@pytest.mark.parametrize("target", [1e12, 1e300, 1.7976931348623157e308, -1.7976931348623157e308])
@pytest.mark.parametrize("dt", [MIN_DT_S, 0.001, 0.01, MAX_DT_S])
def test_huge_targets_give_commands_inside_the_limits(target: float, dt: float) -> None:
    sup = Supervisor([franka_fr3_limits(), HandLimits()], SafetyConfig(max_step_per_cycle=0.05))
    p = np.r_[READY, np.full(6, 0.5)]
    v0 = np.zeros(13)
    for _ in range(5):  # stateful: each cycle measured against the previous output
        res = sup.step(np.full(13, target), p, dt)
        assert check_command(sup, p, v0, dt, res) is None
        assert not res.hold
        v0, p = (res.command - p) / dt, res.command


def test_internal_error_becomes_a_hold_with_a_fault() -> None:
    class BrokenFk:
        def __call__(self, q: np.ndarray) -> np.ndarray:
            raise RuntimeError("kinematics library crashed")

    from being_h0_runtime.safety import WorkspaceBox

    sup = Supervisor(franka_fr3_limits(), workspace=WorkspaceBox(np.zeros(3), np.ones(3), fk=BrokenFk()))
    res = sup.filter(READY, READY, None, None, 0.01)
    assert res.hold and res.fault and res.interventions[0].kind == "internal"
    assert "kinematics library crashed" in res.interventions[0].detail


def test_oracle_catches_violations() -> None:
    """The oracle must be able to fail: a command one step too far, a NaN, a silent hold."""
    from being_h0_runtime.safety.supervisor import FilterResult, Intervention

    sup = Supervisor(franka_fr3_limits())
    p, v0, dt = READY, np.zeros(7), 0.01
    ok = sup.filter(READY + 1.0, p, None, None, dt)
    assert check_command(sup, p, v0, dt, ok) is None
    too_far = FilterResult(ok.command + 1e-9, False, [], None)
    assert check_command(sup, p, v0, dt, too_far) is not None
    assert check_command(sup, p, v0, dt, FilterResult(np.full(7, np.nan), False)) is not None
    assert check_command(sup, p, v0, dt, FilterResult(None, True, [])) is not None
    assert check_command(sup, p, v0, dt, FilterResult(None, True, [Intervention("bad_dt", "reject")])) is None
    assert FuzzCounts().summary().startswith("cases 0")
