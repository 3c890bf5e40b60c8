"""Fault injection for the motion gate, watchdog, e-stop latch, soft start and cadence report."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from being_h0_runtime.rig import READY_Q
from being_h0_runtime.safety import (
    CadenceMonitor,
    EStopLatch,
    EStopResetRefused,
    HandLimits,
    MotionGate,
    SafetyConfig,
    SoftStart,
    Supervisor,
    Watchdog,
    franka_fr3_limits,
)

DT = 0.001


def running_gate(deadline: float = 0.05) -> tuple[MotionGate, float]:
    gate = MotionGate(EStopLatch(), Watchdog(deadline))
    now = 10.0
    assert gate.decide(now).action == "hold"  # nothing fed yet
    gate.watchdog.feed(now)
    d = gate.decide(now)
    assert d.run and d.resumed
    return gate, now


# ------------------------------------------------------------------ watchdog


def test_watchdog_stale_latches_until_fresh_feed():
    wd = Watchdog(0.1)
    assert wd.check(0.0) and wd.state == "waiting"
    wd.feed(0.0)
    assert not wd.check(0.1)
    assert wd.check(0.1001) and wd.state == "stale"
    assert wd.check(0.05)  # latched even if the clock reads earlier
    wd.feed(0.2)
    assert not wd.check(0.25)
    assert wd.expiries == 1
    assert wd.check(float("nan"))  # a NaN clock is never "fresh"


def test_watchdog_fault_needs_operator_reset_then_fresh_feed():
    wd = Watchdog(0.1)
    wd.feed(0.0)
    wd.fault("driver fault")
    assert not wd.feed(0.01) and wd.check(0.01) and wd.state == "fault"
    wd.operator_reset()
    assert wd.state == "waiting" and wd.check(0.02)
    wd.feed(0.03)
    assert not wd.check(0.04)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_watchdog_rejects_bad_deadline(bad):
    with pytest.raises(ValueError, match="deadline_s"):
        Watchdog(bad)


# ------------------------------------------------------------------- e-stop


def test_estop_latch_events_and_explicit_reset():
    es = EStopLatch(clock=lambda: 42.0)
    assert not es.is_latched
    es.trigger("console", "operator pressed stop", now=1.0)
    es.trigger("footswitch", "pressed")
    assert es.is_latched and es.trigger_count == 2
    with pytest.raises(EStopResetRefused):
        es.reset("")
    assert es.is_latched
    es.reset("alice", now=3.0)
    assert not es.is_latched
    kinds = [(e.kind, e.source, e.stamp) for e in es.events]
    assert kinds == [
        ("trigger", "console", 1.0),
        ("trigger", "footswitch", 42.0),
        ("reset_refused", "", 42.0),
        ("reset", "alice", 3.0),
    ]


def test_estop_reset_refused_while_source_asserts():
    es = EStopLatch()
    es.set_asserted("pedal", True, "held down")
    with pytest.raises(EStopResetRefused, match="pedal"):
        es.reset("bob")
    es.set_asserted("pedal", False)
    assert es.is_latched  # releasing the pedal does not resume
    es.reset("bob")
    assert not es.is_latched


def test_estop_callbacks_cannot_untrigger():
    es = EStopLatch()
    seen = []
    es.subscribe(lambda ev: seen.append(ev.source))
    es.subscribe(lambda ev: 1 / 0)
    es.trigger("x", "y")
    assert es.is_latched and seen == ["x"]


# --------------------------------------------------------------- motion gate


def test_estop_mid_motion_holds_on_the_very_next_decide():
    gate, now = running_gate()
    sup = Supervisor(franka_fr3_limits())
    q = np.array(READY_Q)
    for k in range(50):  # moving
        now += DT
        gate.watchdog.feed(now)
        assert gate.decide(now).run
        assert not sup.step(q + 0.3, q, DT).hold
    gate.estop.trigger("test", "mid-motion", now)
    d = gate.decide(now + 1e-6)
    assert d.action == "hold" and "e-stop" in d.reason and "mid-motion" in d.reason
    # commands keep flowing, the estop latch is reset directly: still holding
    gate.estop.reset("alice")
    for k in range(5):
        now += DT
        gate.watchdog.feed(now)
        d = gate.decide(now)
        assert d.action == "hold" and "operator reset" in d.reason


def test_estop_from_another_thread_seen_next_cycle():
    gate, now = running_gate(deadline=10.0)
    t = threading.Thread(target=gate.estop.trigger, args=("thread", "async", now))
    t.start()
    t.join()
    assert gate.decide(now).action == "hold"


def test_stale_watchdog_holds_within_one_cycle():
    gate, now = running_gate(deadline=0.01)
    last_feed = now
    while True:
        now += DT
        d = gate.decide(now)
        if not d.run:
            break
    # the first cycle past the deadline holds (deadline 10 ms, cycle 1 ms)
    assert now - last_feed <= 0.01 + DT + 1e-12
    assert "stale" in d.reason
    # stale is not a fault: a fresh command resumes without operator action
    gate.watchdog.feed(now)
    d = gate.decide(now)
    assert d.run and d.resumed


@pytest.mark.parametrize("fault", ["estop", "nan", "driver"])
def test_nothing_resumes_without_operator_reset_after_fault(fault):
    gate, now = running_gate()
    sup = Supervisor(franka_fr3_limits())
    if fault == "estop":
        gate.estop.trigger("console", "stop", now)
    elif fault == "nan":
        res = sup.step(np.full(7, np.nan), np.zeros(7), DT)
        assert res.hold
        gate.report(res)
    else:
        gate.fault("arm_driver", "reflex: joint velocity violation")
    for _ in range(200):  # fresh commands keep coming: no resume
        now += DT
        gate.watchdog.feed(now)
        assert gate.decide(now).action == "hold"
    with pytest.raises(EStopResetRefused):
        gate.operator_reset("  ")
    assert gate.decide(now).action == "hold"
    gate.operator_reset("alice")
    # the reset alone does not resume: a *fresh* command must arrive after it
    assert gate.decide(now).action == "hold"
    now += DT
    gate.watchdog.feed(now)
    d = gate.decide(now)
    assert d.run and d.resumed
    assert not gate.decide(now).resumed


def test_gate_reset_refused_while_pedal_held():
    gate, now = running_gate()
    gate.estop.set_asserted("pedal", True, "held")
    assert gate.decide(now).action == "hold"
    with pytest.raises(EStopResetRefused):
        gate.operator_reset("alice")
    gate.watchdog.feed(now)
    assert gate.decide(now).action == "hold"


def test_gate_without_watchdog_runs_until_fault():
    gate = MotionGate()
    assert gate.decide(0.0).run
    gate.fault("hand", "overcurrent")
    assert not gate.decide(0.1).run
    gate.operator_reset("op")
    assert gate.decide(0.2).run
    assert gate.holds_by_reason["fault"] == 1


# --------------------------------------------------------------- soft start


def test_soft_start_respects_limits_and_arrives():
    cfg = SafetyConfig()
    sup = Supervisor(franka_fr3_limits(), cfg)
    lim = sup.limits
    q0 = np.array(READY_Q)
    goal = q0 + np.array([1.0, 0.5, -0.8, 0.6, 1.2, -0.5, 2.0])
    ss = SoftStart(q0, goal, t0=0.0, duration_s=0.5, limits=lim)
    assert ss.duration > 0.5  # stretched: 2 rad on joint 7 cannot be done in 0.5 s
    ts = np.arange(0.0, ss.duration + 0.05, DT)
    traj = np.array([ss.sample(t) for t in ts])
    v = np.diff(traj, axis=0) / DT
    acc = np.diff(v, axis=0) / DT
    assert np.all(np.abs(v) <= lim.vel_max + 1e-9)
    assert np.all(np.abs(acc) <= lim.acc_max + 1e-6)
    np.testing.assert_allclose(traj[-1], ss.goal)
    assert ss.done(ts[-1]) and not ss.done(0.1)
    # and the supervisor never needs to intervene on it
    for t in ts:
        res = sup.step(ss.sample(t), q0, DT)
        assert not res.hold
    assert sup.counters["velocity"] == sup.counters["acceleration"] == 0


def test_soft_start_clips_goal_and_rejects_garbage():
    lim = Supervisor(HandLimits()).limits
    ss = SoftStart(np.zeros(6), np.full(6, 3.0), 0.0, 0.2, lim)
    np.testing.assert_allclose(ss.goal, 1.0)
    with pytest.raises(ValueError):
        SoftStart(np.zeros(6), np.full(6, np.nan), 0.0, 0.2, lim)
    with pytest.raises(ValueError):
        SoftStart(np.zeros(5), np.zeros(6), 0.0, 0.2, lim)


# ------------------------------------------------------------------- cadence


def test_cadence_report_counts_and_percentiles():
    cm = CadenceMonitor(0.001, capacity=1000)
    t = 0.0
    periods = [0.001] * 97 + [0.0012, 0.0025, 0.0009]
    cm.tick(t)
    for p in periods:
        t += p
        cm.tick(t)
    r = cm.report()
    assert r.cycles == 100
    assert r.p50_s == pytest.approx(0.001)
    assert r.max_s == pytest.approx(0.0025)
    assert r.over_budget == 2 and r.missed == 1
    assert r.jitter_max_s == pytest.approx(0.0015)
    assert r.jitter_std_s == pytest.approx(np.std(periods))
    assert "p99" in r.format("x")


def test_cadence_ring_buffer_keeps_newest():
    cm = CadenceMonitor(0.01, capacity=4)
    for p in [1, 2, 3, 4, 5, 6]:
        cm.record(float(p))
    np.testing.assert_array_equal(cm.periods, [3, 4, 5, 6])
    assert CadenceMonitor(0.01).report().cycles == 0


def test_control_loop_bench_runs_and_measures_estops(tmp_path):
    import json

    from being_h0_runtime.bench.control_loop import main

    out = tmp_path / "bench.json"
    rc = main(["--rates", "200", "--duration", "0.4", "--estop-min-gap", "0.03", "--estop-max-gap", "0.06", "--json", str(out)])
    assert rc == 0
    (r,) = json.loads(out.read_text())
    assert r["estops"] >= 1
    assert 0 < r["estop_to_hold"]["p50_us"] < 200_000
    assert r["cycles_safety"] > 20 and r["work_safety"]["p50_us"] > 0


def test_control_loop_bench_compares_realtime_beside_a_burner(tmp_path, capsys):
    import json

    from being_h0_runtime.bench.control_loop import main

    out = tmp_path / "bench.json"
    # run from a worker thread: the realtime pass raises the calling thread, never the test runner's
    rc: list[int] = []
    import threading

    th = threading.Thread(target=lambda: rc.append(main(["--rates", "100", "--duration", "0.3", "--realtime", "10",
                                                         "--burners", "1", "--json", str(out)])))
    th.start()
    th.join(60)
    assert rc == [0]
    normal, rt = json.loads(out.read_text())
    assert normal["scheduling"] == "normal scheduling"
    assert rt["scheduling"].startswith(("SCHED_FIFO 10", "normal scheduling, memory not locked; refused"))
    text = capsys.readouterr().out
    assert "1 CPU-burning neighbour(s)" in text and "safety loop period p99: normal" in text


def test_gate_latches_estop_even_if_reset_before_it_looked():
    gate, now = running_gate()
    gate.estop.trigger("console", "blip", now)
    gate.estop.reset("someone")  # latch cleared behind the gate's back
    gate.watchdog.feed(now)
    d = gate.decide(now)
    assert d.action == "hold" and "blip" in d.reason
    gate.operator_reset("alice")
    gate.watchdog.feed(now + DT)
    assert gate.decide(now + DT).run


def test_estop_trigger_storm_from_threads_never_lost():
    es = EStopLatch()
    n_threads, per = 4, 200
    barrier = threading.Barrier(n_threads + 1)

    def hammer(i: int) -> None:
        barrier.wait()
        for k in range(per):
            es.trigger(f"t{i}", str(k))

    ths = [threading.Thread(target=hammer, args=(i,)) for i in range(n_threads)]
    for t in ths:
        t.start()
    barrier.wait()
    resets = 0
    while any(t.is_alive() for t in ths):
        try:
            es.reset("op")
            resets += 1
        except EStopResetRefused:
            pass
    for t in ths:
        t.join()
    assert es.trigger_count == n_threads * per
    assert sum(e.kind == "trigger" for e in es.events) == n_threads * per
    # the last event decides: if a trigger came after the last reset, the latch is set
    last = [e for e in es.events if e.kind in ("trigger", "reset")][-1]
    assert es.is_latched == (last.kind == "trigger")
