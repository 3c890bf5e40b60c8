"""The Inspire driver's fast cycle and the emulator's line model, against the real protocol over a pty.

Correctness only (what goes on the wire, what the hand ends up with); speed is measured by
``being-h0 bench hand-link``, not asserted here.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from helpers.inspire import open_hand as _hand

from being_h0_runtime.drivers.base import HandCommand
from being_h0_runtime.drivers.hand import (
    FirstOrderHandPlant,
    InspireEmulator,
    Register,
)
from being_h0_runtime.drivers.hand.protocol import encode_read


def test_fast_cycle_writes_only_changed_targets(emu: InspireEmulator) -> None:
    hand = _hand(emu, rewrite_period_s=60.0)
    hand.write(HandCommand(position=np.full(6, 0.3)))
    writes = emu.stats.writes
    hand.write(HandCommand(position=np.full(6, 0.3)))  # the hand already has it
    hand.write(HandCommand(position=np.full(6, 0.3 + 1e-5)))  # rounds to the same raw register value
    assert emu.stats.writes == writes
    assert hand.stats.skipped_writes == 2
    hand.write(HandCommand(position=np.array([0.3, 0.3, 0.3, 0.3, 0.3, 0.6])))
    assert emu.stats.writes == writes + 1
    np.testing.assert_array_equal(emu.read_register(Register.ANGLE_SET), [700] * 5 + [400])
    hand.close()


def test_unchanged_target_is_refreshed_after_the_rewrite_period(emu: InspireEmulator) -> None:
    hand = _hand(emu, rewrite_period_s=0.05)
    hand.write(HandCommand(position=np.full(6, 0.3)))
    writes = emu.stats.writes
    time.sleep(0.08)
    hand.write(HandCommand(position=np.full(6, 0.3)))
    assert emu.stats.writes == writes + 1
    hand.close()


def test_legacy_cycle_writes_every_call(emu: InspireEmulator) -> None:
    hand = _hand(emu, cycle="legacy")
    writes = emu.stats.writes
    for _ in range(3):
        hand.write(HandCommand(position=np.full(6, 0.3)))
    assert emu.stats.writes == writes + 3
    assert hand.stats.skipped_writes == 0
    hand.close()


def test_a_rejected_or_lost_write_is_resent(emu: InspireEmulator) -> None:
    hand = _hand(emu, rewrite_period_s=60.0, retries=0, fault_after=10, timeout_s=0.02)
    emu.faults.silent = True
    hand.write(HandCommand(position=np.full(6, 0.3)))  # lost: the hand never acknowledged it
    emu.faults.silent = False
    writes = emu.stats.writes
    hand.write(HandCommand(position=np.full(6, 0.3)))
    assert emu.stats.writes == writes + 1
    np.testing.assert_array_equal(emu.read_register(Register.ANGLE_SET), 700)
    hand.close()


def test_status_registers_are_read_at_their_period(emu: InspireEmulator) -> None:
    hand = _hand(emu, status_period_s=1.0)
    first = hand.read()  # never read: full span
    np.testing.assert_allclose(first.temperature, 32.0)
    emu.set_temperature(50.0)
    hand.write(HandCommand(position=np.full(6, 0.5)))
    t0 = time.monotonic()
    state = hand.read()  # status still fresh: ANGLE_ACT alone, temperature is the cached value
    while not np.allclose(state.position, 0.5, atol=2e-3) and time.monotonic() - t0 < 0.5:
        state = hand.read()
    assert hand.stats.angle_only_reads >= 1
    np.testing.assert_allclose(state.temperature, 32.0)
    np.testing.assert_allclose(state.position, 0.5, atol=2e-3)  # angles are fresh on every read
    hand.close()
    hand = _hand(emu, status_period_s=0.02)
    hand.read()
    time.sleep(0.03)
    np.testing.assert_allclose(hand.read().temperature, 50.0)  # stale status is re-read
    hand.close()


def test_recover_judges_health_on_a_full_read(emu: InspireEmulator) -> None:
    hand = _hand(emu, status_period_s=1.0)
    assert hand.read().fault is None  # full span
    emu.set_temperature([40, 40, 80, 40, 40, 40])
    assert hand.read().fault is None  # angle-only: the heat is seen within status_period_s, not now
    hand.recover()  # must not call the hand healthy on cached status
    assert "over-temperature" in (hand.fault or "")
    hand.close()


def test_default_fast_cycle_sees_faults_on_every_read(emu: InspireEmulator) -> None:
    hand = _hand(emu)  # status_period_s = 0: status span on every read, as prompt as the legacy cycle
    hand.read()
    emu.set_temperature([40, 40, 80, 40, 40, 40])
    assert "over-temperature" in (hand.read().fault or "")
    assert hand.stats.angle_only_reads == 0
    hand.close()


@pytest.mark.parametrize("fault", ["drop", "checksum"])
def test_pipelined_full_duplex_link_survives_faults(plant: FirstOrderHandPlant, fault: str) -> None:
    with InspireEmulator(plant, duplex="full") as emu:
        hand = _hand(emu, duplex="full", retries=4, fault_after=5)
        if fault == "drop":
            emu.faults.drop_byte_prob = 0.003
        else:
            emu.faults.corrupt_checksum_prob = 0.2
        for i in range(40):
            state = hand.read()
            hand.write(HandCommand(position=np.full(6, (i % 10) / 10)))
        state = hand.read()  # also collects the last write's ack
        assert state.fault is None
        assert hand.link.pending_write is None
        np.testing.assert_array_equal(emu.read_register(Register.ANGLE_SET), 100)  # (39 % 10)/10 -> raw 100
        assert hand.stats.retries > 0
        hand.close()


def test_pipelined_write_then_read_returns_fresh_state(plant: FirstOrderHandPlant) -> None:
    with InspireEmulator(plant, duplex="full", baudrate=115200, turnaround_s=0.0005) as emu:
        hand = _hand(emu, duplex="full")
        hand.write(HandCommand(position=np.full(6, 0.25)))
        time.sleep(0.05)
        state = hand.read()
        np.testing.assert_allclose(state.position, 0.25, atol=2e-3)
        assert emu.stats.collisions == 0 and hand.stats.failed_transactions == 0
        hand.close()


def test_half_duplex_line_counts_talking_over_the_hand(plant: FirstOrderHandPlant) -> None:
    """Pipelining on a 2-wire RS-485 bus collides; the driver's half-duplex fast cycle never does."""
    with InspireEmulator(plant, baudrate=115200, turnaround_s=0.0002) as emu:
        wrong = _hand(emu, duplex="full", timeout_s=0.05, fault_after=50)
        for i in range(20):
            wrong.read()
            wrong.write(HandCommand(position=np.full(6, (i % 5) / 5)))
        wrong.read()
        assert emu.stats.collisions > 0
        wrong.close()
        collisions = emu.stats.collisions
        # a generous deadline: a retry after a load-induced timeout would (rightly) collide too
        right = _hand(emu, timeout_s=1.0, status_period_s=0.02)
        for i in range(20):
            right.read()
            right.write(HandCommand(position=np.full(6, (i % 5) / 5)))
        assert right.read().fault is None
        assert emu.stats.collisions == collisions
        right.close()


def test_emulator_paces_bytes_at_the_baud_rate(plant: FirstOrderHandPlant) -> None:
    """A 78-byte read cannot be answered before its 95 bytes (9 out, 86 back) have crossed a 115200 line."""
    import os
    import select
    import termios
    import tty

    with InspireEmulator(plant, baudrate=115200, turnaround_s=0.0) as emu:
        fd = os.open(emu.port, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd, termios.TCSANOW)
            for _ in range(3):
                t0 = time.perf_counter()
                os.write(fd, encode_read(1, int(Register.ANGLE_ACT), 78))
                got = b""
                while len(got) < 86:
                    ready, _, _ = select.select([fd], [], [], 1.0)
                    assert ready, "no reply"
                    got += os.read(fd, 256)
                elapsed = time.perf_counter() - t0
                assert elapsed >= 95 * 10 / 115200 * 0.98
        finally:
            os.close(fd)


def test_fast_forces_reads_angles_and_forces_in_one_span(emu: InspireEmulator, plant: FirstOrderHandPlant) -> None:
    hand = _hand(emu, status_period_s=1.0, fast_forces=True)
    hand.read()  # full span first
    plant.obstacle[3] = 600.0
    hand.write(HandCommand(position=np.full(6, 1.0), force_limit=np.full(6, 0.3)))
    reads = emu.stats.reads
    t0 = time.monotonic()
    state = hand.read()
    while state.force[3] < 299.0 and time.monotonic() - t0 < 0.5:
        state = hand.read()
    assert state.force[3] == pytest.approx(300.0, abs=1.0)  # fresh, though the status span is not due
    assert hand.stats.angle_only_reads >= 1 and emu.stats.reads - reads == hand.stats.angle_only_reads
    hand.close()
