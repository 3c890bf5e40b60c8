"""E-stop fault injection on the motion graph (virtual rig + arm + hand, simulated clock).

1. Every stop source - the console, a raw /estop message, the foot switch on the arm
   node, a latched fault on one node (its watchdog goes to "fault") - latches the arm
   *and* the hand; while the pedal is held a console reset is refused on both; neither
   driver is written to from the latch until a reset is accepted.
2. After a stop and a reset, for every execution strategy, the first (and every)
   executed action comes from chunks whose observation was taken after the reset:
   nothing stored before or during the stop, nor an inference in flight across the
   reset, may run.
"""

from __future__ import annotations

import numpy as np
import pytest

from motion_graph import ARM_DT, MotionGraph, pose

T_STOP = 1.0
T_RESET = 1.5
T_END = 2.5
SOURCES = ["console", "topic", "footswitch", "fault"]
N_ARM = 7


def latched(node) -> bool:
    return node.estop.is_latched or bool(node.gate.faults)


def first_latch_time(node, after: float) -> float | None:
    stamps = [e.stamp for e in node.estop.events if e.kind in ("trigger", "assert") and e.stamp >= after]
    return min(stamps) if stamps else None


@pytest.mark.parametrize("source", SOURCES)
def test_every_stop_source_latches_arm_and_hand_and_no_driver_write_until_reset(source: str) -> None:
    g = MotionGraph(footswitch=True)  # always wired: its periodic state relay must not mask other stops
    try:
        g.run_until(T_STOP)
        assert g.writes["arm"].between(0.5, T_STOP) and g.writes["hand"].between(0.5, T_STOP), "not moving before"
        stop = {"console": g.console.estop, "topic": g.topic_estop, "footswitch": g.press_pedal,
                "fault": g.nan_chunk_for_hand}[source]
        g.at(T_STOP, stop)
        g.run_until(T_STOP + ARM_DT)  # worst case: the arm relays the pedal at its next cycle
        assert latched(g.arm) and latched(g.hand), f"{source}: arm latched {latched(g.arm)}, hand {latched(g.hand)}"
        latch = {name: first_latch_time(g.nodes[name], T_STOP - 1e-9) for name in ("arm", "hand")}
        for name, t in latch.items():
            assert t is not None and t - T_STOP <= ARM_DT + 1e-9, f"{source}: {name} latched at {t}"
        if source == "footswitch":
            # the pedal is still down: a console reset must be refused on every motion node
            g.at(T_STOP + 0.2, g.console.reset_estop)
            g.run_until(T_STOP + 0.4)
            assert latched(g.arm) and latched(g.hand), "a reset was accepted while the pedal was held"
            g.at(T_STOP + 0.4, g.release_pedal)
            g.run_until(T_RESET - 0.01)
            assert latched(g.arm) and latched(g.hand), "releasing the pedal alone must not resume"
        else:
            g.run_until(T_RESET - 0.01)
            assert latched(g.arm) and latched(g.hand)
        for name in ("arm", "hand"):
            held = g.writes[name].between(latch[name], T_RESET)
            assert held == [], f"{source}: {name} driver written {len(held)} times between its latch and the reset"
            # before its latch a node may still write within the relay's one arm cycle: at most once
            assert len(g.writes[name].between(T_STOP, latch[name])) <= 1
        g.at(T_RESET, g.console.reset_estop)
        assert not latched(g.arm) and not latched(g.hand), "the reset should be accepted once nothing holds"
        g.run_until(T_END)
        assert g.writes["arm"].between(T_RESET) and g.writes["hand"].between(T_RESET), "no motion after the reset"
    finally:
        g.close()


def test_pedal_held_refuses_every_reset_for_seconds_of_fresh_chunks() -> None:
    """The defect seen on the rig: pedal down, console reset, 2 s of fresh chunks - the hand must not move."""
    g = MotionGraph(footswitch=True)
    try:
        g.run_until(0.8)
        g.at(0.8, g.press_pedal)
        for k in range(4):
            g.at(1.0 + 0.5 * k, g.console.reset_estop)
        g.run_until(3.0)
        assert g.writes["arm"].between(0.8 + ARM_DT, 3.0) == []
        assert g.writes["hand"].between(0.8 + ARM_DT, 3.0) == []
        refused = [e for e in g.hand.estop.events if e.kind == "reset_refused"]
        assert len(refused) >= 4
    finally:
        g.close()


def test_stops_arriving_with_relays_are_all_heard() -> None:
    """The arm re-publishes its pedal state every 0.2 s on /estop; console stops and resets at every
    phase of that period must still reach every motion node (no relay may overwrite a pending stop)."""
    g = MotionGraph(footswitch=True)
    try:
        for k in range(20):
            t = 0.5 + 0.3 * k + 0.01 * (k % 20)  # walk through the 0.2 s period in 10 ms steps
            g.at(t, g.console.estop)
            assert latched(g.arm) and latched(g.hand), f"stop at t={t:.2f} missed"
            g.at(t + 0.1, g.console.reset_estop)
            assert not latched(g.arm) and not latched(g.hand)
    finally:
        g.close()


@pytest.mark.parametrize("strategy", ["sync", "async", "ensemble", "crossfade", "rtc"])
def test_after_a_reset_only_chunks_observed_after_it_run(strategy: str) -> None:
    # chunk content tells its observation's epoch: 0 before the stop, 1 during it, 2 after the reset
    g = MotionGraph(executor=strategy)
    g.epoch_at = lambda obs: 0 if obs < T_STOP else (1 if obs < T_RESET else 2)
    try:
        g.run_until(T_STOP)
        g.at(T_STOP, g.console.estop)
        g.run_until(T_RESET)
        g.at(T_RESET, g.console.reset_estop)
        g.run_until(T_END)
        # an inference in flight across the reset (obs before, arrival after) was published: it must not run
        assert any(t > T_RESET and obs < T_RESET for t, obs, _ in g.published)
        for name, cols in (("arm", slice(0, N_ARM)), ("hand", slice(N_ARM, None))):
            after = g.writes[name].targets_between(T_RESET)
            assert after, f"{strategy}: {name} never resumed"
            fresh = pose(2)[cols]
            for t, target in after:
                assert np.allclose(target, fresh, atol=1e-5), (
                    f"{strategy}: {name} at t={t:.2f} executed {np.round(target, 3)}, not the post-reset "
                    f"chunks' {np.round(fresh, 3)} (pre-stop {np.round(pose(0)[cols], 3)}, "
                    f"during-stop {np.round(pose(1)[cols], 3)})")
            during = g.writes[name].targets_between(T_STOP, T_RESET)
            assert during == [], f"{strategy}: {name} computed targets while stopped"
    finally:
        g.close()


@pytest.mark.parametrize("strategy", ["ensemble", "crossfade", "rtc"])
def test_a_hold_clears_stored_chunks(strategy: str) -> None:
    """A stale hold (the chunk stream stops past the watchdog deadline) leaves nothing stored to resume from."""
    g = MotionGraph(executor=strategy, extra={"arm": {"watchdog_deadline_s": 0.3}, "hand": {"watchdog_deadline_s": 0.3}})
    try:
        g.run_until(1.0)
        g.chunks_on = False
        g.run_until(1.5)  # past the deadline: holding (stale)
        for node in (g.arm, g.hand):
            assert node.holding and node.watchdog.state == "stale"
            assert node.executor.action_at(g.ctx.now()) is None, "a holding node still stores a plan"
    finally:
        g.close()


def first_hold(node, after: float) -> float | None:
    stamps = [t for t, _ in node.hold_events if t >= after - 1e-9]
    return min(stamps) if stamps else None


@pytest.mark.parametrize("source", SOURCES)
def test_stop_to_hold_latency_in_simulated_cycles(source: str) -> None:
    """Console, topic and a fault on one node hold both nodes at the same instant; the pedal (read by
    its own thread, seen by the arm's next tick, relayed in that tick) within one arm cycle."""
    budget = ARM_DT if source == "footswitch" else 0.0
    worst = 0.0
    for k in range(4):  # stops at different phases of the arm (10 ms) and hand (20 ms) cycles
        g = MotionGraph(footswitch=True)
        try:
            t = 1.0 + 0.0061 * k
            g.run_until(t)
            stop = {"console": g.console.estop, "topic": g.topic_estop, "footswitch": g.press_pedal,
                    "fault": g.nan_chunk_for_hand}[source]
            g.at(t, stop)
            g.run_until(t + 0.05)
            for node in (g.arm, g.hand):
                held = first_hold(node, t)
                assert held is not None
                worst = max(worst, held - t)
        finally:
            g.close()
    print(f"\n{source}: worst stop-to-hold {worst * 1e3:.1f} ms = {worst / ARM_DT:.2f} arm cycles")
    assert worst <= budget + 1e-9


def test_a_node_that_never_hears_the_release_keeps_holding() -> None:
    """The pedal's node dies while the pedal is down: the hand must refuse resets for as long as it has
    not heard a release; when the pedal's node comes back (its first tick announces the pedal's state),
    an operator reset is accepted again."""
    g = MotionGraph(footswitch=True)
    try:
        g.run_until(0.8)
        g.at(0.8, g.press_pedal)
        g.run_until(0.9)
        arm_ticks = [entry for entry in g.ctx._timers if getattr(entry[2].callback, "__self__", None) is g.arm]
        for entry in arm_ticks:  # the arm node stops: no more relays from it
            entry[2].cancel()
        g.at(1.0, g.release_pedal)
        for k in range(3):
            g.at(1.2 + 0.5 * k, g.console.reset_estop)
            assert latched(g.hand), "the hand accepted a reset without hearing the pedal's release"
        assert g.writes["hand"].between(0.8 + ARM_DT, 2.5) == []
        g.at(2.5, g.arm.control_cycle)  # the arm's loop runs again (a restarted node's first tick)
        g.at(2.6, g.console.reset_estop)
        assert not latched(g.hand)
    finally:
        g.close()
