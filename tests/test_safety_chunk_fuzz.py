"""Malformed action chunks are rejected at the arm and hand nodes' boundary, never crash the graph.

A fuzzed chunk (step_dt of 0, negative, inf, NaN, denormal or huge; no steps; sizes that
disagree; names missing, extra or duplicated; NaN/inf/huge values) arrives while both nodes
execute a valid plan. Then: no exception leaves the node; a malformed chunk gives a safety
event (an ERROR diagnostic from the node) and the node goes on holding or executing its
last valid plan; a well-formed one is accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from being_h0_runtime.msgs import ActionChunk, DiagnosticArray, DiagnosticStatus
from being_h0_runtime.msgs.std import Time
from being_h0_runtime.msgs.convert import chunk_from_array, header
from being_h0_runtime.transport.api import QoS
from motion_graph import NAMES, STEP_DT, MotionGraph, pose

N_ARM = 7
COLS = {"arm": slice(0, N_ARM), "hand": slice(N_ARM, None)}
GOOD_DT = (0.1, 0.05, 0.02, 0.5)
BAD_DT = (0.0, -0.0, -0.1, math.inf, -math.inf, math.nan, 5e-324, 1e-320, 1e-300, 1e300)
BAD_VALUES = (math.nan, math.inf, -math.inf)


@dataclass
class Fuzzed:
    msg: ActionChunk
    #: node -> (well formed for that node, the chunk's values for that node or None)
    expect: dict[str, bool]


@st.composite
def chunks(draw) -> Fuzzed:
    names = list(NAMES)
    kind = draw(st.sampled_from(["ok", "permuted", "missing", "extra", "duplicate", "arm_only", "empty"]))
    if kind == "permuted":
        names = draw(st.permutations(names))
    elif kind == "missing":
        names.pop(draw(st.integers(0, len(names) - 1)))
    elif kind == "extra":
        names.append("thumb_wrist_roll")
    elif kind == "duplicate":
        names.append(names[draw(st.integers(0, len(names) - 1))])
    elif kind == "arm_only":
        names = names[:N_ARM]
    elif kind == "empty":
        names = []
    names = list(names)
    steps = draw(st.sampled_from([0, 1, 2, 16, 16, 16]))
    dims = len(names) + draw(st.sampled_from([0, 0, 0, 0, -1, 1]))
    size = max(steps * dims + draw(st.sampled_from([0, 0, 0, 0, -1, 3])), 0)
    base = np.resize(pose(draw(st.integers(3, 6))), max(dims, 0))  # plausible values in (mostly) the right columns
    data = np.resize(np.tile(base, max(steps, 1)), size).astype(np.float32)
    n_bad = draw(st.integers(0, 3)) if size else 0
    for _ in range(n_bad):
        data[draw(st.integers(0, size - 1))] = draw(st.sampled_from(BAD_VALUES + (3e38, -3e38)))
    step_dt = draw(st.one_of(st.sampled_from(GOOD_DT), st.sampled_from(BAD_DT),
                             st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)))
    msg = ActionChunk(names=names, steps=steps, dims=dims, step_dt=step_dt, data=data, engine_id="fuzz", sequence=7)
    # the oracle, written from the message's meaning, not from the node's code
    structural = (
        math.isfinite(step_dt) and 1e-3 <= step_dt <= 1.0
        and 1 <= steps
        and dims == len(names) and size == steps * dims
        and len(set(names)) == len(names)
    )
    expect = {}
    for node, cols in COLS.items():
        wanted = NAMES[cols]
        ok = structural and all(n in names for n in wanted)
        if ok:
            values = data.reshape(steps, dims)[:, [names.index(n) for n in wanted]]
            ok = bool(np.all(np.isfinite(values)))
        expect[node] = ok
    if not (math.isfinite(step_dt) and (1e-3 <= step_dt <= 1.0 or step_dt <= 0 or step_dt < 1e-200
                                        or step_dt > 1e3)):
        expect = {}  # a borderline period (e.g. 2e-4 s or 50 s): either answer is fine, only no escape
    return Fuzzed(msg, expect)


@pytest.fixture(scope="module")
def graph():
    g = MotionGraph(executor="async")
    g.chunks_on = False  # this test publishes every chunk itself
    errors: list[tuple[float, DiagnosticStatus]] = []
    g.probe.create_subscription(
        DiagnosticArray, "/diagnostics",
        lambda m: errors.extend((g.ctx.now(), s) for s in m.status if s.level == DiagnosticStatus.ERROR),
        QoS(depth=1000))
    g.errors = errors
    g.run_until(0.3)
    g.plan = 0
    yield g
    g.close()


def publish(g, values: np.ndarray, obs: float) -> None:
    g.sequence += 1
    g.chunk_pub.publish(chunk_from_array(np.tile(values, (16, 1)), NAMES, STEP_DT, g.ctx.now(), obs, "plan", g.sequence))


@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fz=chunks())
def test_fuzzed_chunks_are_rejected_at_the_node_boundary(graph, fz: Fuzzed) -> None:
    g = graph
    if any(n.estop.is_latched or n.gate.faults for n in (g.arm, g.hand)):
        g.console.reset_estop()  # the previous example latched (NaN): an operator resets
        g.run_until(g.ctx.now() + 0.02)
    # a valid plan, executing on both nodes
    g.plan = 1 - g.plan
    plan = pose(g.plan + 1)
    publish(g, plan, g.ctx.now())
    g.run_until(g.ctx.now() + 0.06)
    for name in COLS:
        last = g.writes[name].targets[-1]
        assert np.allclose(last[1], plan[COLS[name]], atol=1e-5), f"{name} is not executing the valid plan"
    received = {name: g.nodes[name].chunks_received for name in COLS}
    t_bad = g.ctx.now()
    fz.msg.header = header(t_bad)
    fz.msg.source_stamp = Time.from_sec(t_bad)
    n_errors = len(g.errors)
    g.chunk_pub.publish(fz.msg)
    g.run_until(t_bad + 0.05)  # an exception in a node's callback would leave this call and fail the test
    new_errors = {s.hardware_id for _, s in g.errors[n_errors:]}
    for name, ok in fz.expect.items():
        node = g.nodes[name]
        if ok:
            assert node.chunks_received == received[name] + 1, f"{name} refused a well-formed chunk"
            continue
        assert name in new_errors, f"{name}: a malformed chunk without a safety event"
        assert node.chunks_received == received[name], f"{name} stored a malformed chunk"
        # holding (a NaN latches) or still executing the last valid plan, never anything else
        for t, target in g.writes[name].targets_between(t_bad):
            assert np.allclose(target, plan[COLS[name]], atol=1e-5), f"{name} at {t:.2f} left its last valid plan"


def test_every_named_malformation_is_rejected_with_an_event(graph) -> None:
    """The cases from the audit, one by one (the fuzz may not draw each)."""
    g = graph
    cases = {
        "step_dt 0": {"step_dt": 0.0}, "step_dt negative": {"step_dt": -0.1}, "step_dt inf": {"step_dt": math.inf},
        "step_dt nan": {"step_dt": math.nan}, "step_dt denormal": {"step_dt": 5e-324}, "zero steps": {"steps": 0},
        "wrong width": {"dims": len(NAMES) + 1},
    }
    for label, change in cases.items():
        if any(n.estop.is_latched or n.gate.faults for n in (g.arm, g.hand)):
            g.console.reset_estop()
            g.run_until(g.ctx.now() + 0.02)
        publish(g, pose(1), g.ctx.now())
        g.run_until(g.ctx.now() + 0.05)
        msg = chunk_from_array(np.tile(pose(2), (16, 1)), NAMES, STEP_DT, g.ctx.now(), g.ctx.now(), "bad", 99)
        for k, v in change.items():
            setattr(msg, k, v)
        if "steps" in change:
            msg.data = msg.data[:0]
        before = {name: len(g.nodes[name].safety_events) for name in COLS}
        g.chunk_pub.publish(msg)
        g.run_until(g.ctx.now() + 0.05)
        for name in COLS:
            node = g.nodes[name]
            assert len(node.safety_events) == before[name] + 1, f"{label}: {name} recorded no safety event"
            assert not node.holding and not node.gate.faults, f"{label}: {name} stopped executing its valid plan"
            assert np.allclose(g.writes[name].targets[-1][1], pose(1)[COLS[name]], atol=1e-5), label
