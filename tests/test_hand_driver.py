"""InspireHand driver against the protocol emulator over a real pseudo-terminal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from helpers.inspire import open_hand as _hand
from helpers.waiting import wait_until
from pydantic import ValidationError

from being_h0_runtime.drivers.base import Diagnostic, DriverError, HandCommand, LifecycleError
from being_h0_runtime.drivers.hand import (
    CalibrationError,
    ClosurePlant,
    ErrorBit,
    FirstOrderHandPlant,
    HandCalibration,
    HandPlant,
    InspireEmulator,
    InspireHand,
    InspireHandConfig,
    Register,
    load_calibration,
    save_calibration,
)

NAN = float("nan")


def _diag(hand: InspireHand, name: str) -> Diagnostic:
    return next(d for d in hand.diagnostics() if d.name == f"inspire_hand: {name}")


_wait_for = partial(wait_until, timeout=2.0, poll_s=0.005)


@pytest.fixture
def hand(emu: InspireEmulator) -> Iterator[InspireHand]:
    h = _hand(emu)
    yield h
    h.close()


def test_plants_satisfy_protocol() -> None:
    assert isinstance(FirstOrderHandPlant(), HandPlant)
    assert isinstance(ClosurePlant(lambda: np.zeros(6), lambda c: None), HandPlant)


def test_write_read_round_trip(hand: InspireHand, emu: InspireEmulator, plant: FirstOrderHandPlant) -> None:
    target = np.array([0.1, 0.2, 0.3, 0.5, 0.7, 0.9])
    hand.write(HandCommand(position=target))
    np.testing.assert_allclose(plant.target(), 1000 * (1 - target))  # default: open=1000, closed=0
    assert _wait_for(lambda: np.allclose(hand.read().position, target, atol=2e-3))
    state = hand.read()
    assert state.fault is None
    assert state.stamp > 0
    np.testing.assert_array_equal(state.error, 0)
    np.testing.assert_allclose(state.temperature, 32.0)


def test_one_transaction_per_read_when_batched(hand: InspireHand, emu: InspireEmulator) -> None:
    before = emu.stats.reads
    hand.read()
    assert emu.stats.reads - before == 1
    naive = _hand(emu, batch_read=False)
    before = emu.stats.reads
    naive.read()
    assert emu.stats.reads - before == 6
    naive.close()


def test_nan_means_unchanged(hand: InspireHand, emu: InspireEmulator) -> None:
    hand.write(HandCommand(position=np.full(6, 0.2)))
    hand.write(HandCommand(position=np.array([NAN, 0.8, NAN, NAN, 0.5, NAN])))
    np.testing.assert_array_equal(emu.read_register(Register.ANGLE_SET), [800, 200, 800, 800, 500, 800])
    writes = emu.stats.writes
    hand.write(HandCommand(position=np.full(6, NAN)))  # nothing to change: nothing sent
    assert emu.stats.writes == writes


def test_open_closed_direction_is_configurable(emu: InspireEmulator, plant: FirstOrderHandPlant) -> None:
    hand = _hand(emu, open_raw=(0,) * 6, closed_raw=(1000,) * 6)
    hand.write(HandCommand(position=np.full(6, 0.3)))
    np.testing.assert_allclose(plant.target(), 300)
    assert _wait_for(lambda: np.allclose(hand.read().position, 0.3, atol=2e-3))
    hand.close()


def test_speed_and_force_limit_written_only_when_changed(hand: InspireHand, emu: InspireEmulator) -> None:
    cmd = HandCommand(position=np.full(6, 0.5), speed=np.full(6, 0.5), force_limit=np.array([0.25] * 5 + [NAN]))
    hand.write(cmd)
    np.testing.assert_array_equal(emu.read_register(Register.SPEED_SET), 500)
    np.testing.assert_array_equal(emu.read_register(Register.FORCE_SET), [250] * 5 + [500])  # 500 = default
    np.testing.assert_array_equal(emu.read_register(Register.ANGLE_SET), 500)
    writes = emu.stats.writes
    hand.write(cmd)
    assert emu.stats.writes - writes == 1  # only ANGLE_SET again


def test_force_model_blocks_and_reports(hand: InspireHand, plant: FirstOrderHandPlant) -> None:
    plant.obstacle[3] = 600.0  # index blocked at raw 600 (closure 0.4)
    hand.write(HandCommand(position=np.full(6, 1.0), force_limit=np.full(6, 0.3)))
    assert _wait_for(lambda: hand.read().position[0] > 0.99)
    state = hand.read()
    assert state.position[3] == pytest.approx(0.4, abs=2e-3)
    assert state.force[3] == pytest.approx(300.0, abs=1.0)  # capped at FORCE_SET 300 -> 300 gf
    assert state.force[0] == 0.0
    assert _diag(hand, "status").values["index"] == "FORCE_REACHED"


def test_dropped_bytes_are_retried(emu: InspireEmulator) -> None:
    hand = _hand(emu)
    emu.faults.drop_byte_prob = 0.003
    for i in range(40):
        hand.write(HandCommand(position=np.full(6, (i % 10) / 10)))
        state = hand.read()
    assert state.fault is None
    assert hand.stats.retries > 0
    assert _diag(hand, "link").level in (Diagnostic.OK, Diagnostic.WARN)
    hand.close()


def test_corrupt_checksums_are_rejected_and_retried(emu: InspireEmulator) -> None:
    hand = _hand(emu, retries=4)
    emu.faults.corrupt_checksum_prob = 0.3
    for i in range(30):
        hand.write(HandCommand(position=np.full(6, 0.5)))
        state = hand.read()
    assert state.fault is None
    assert hand.stats.bad_checksums > 0
    assert hand.stats.retries >= hand.stats.bad_checksums // 2
    np.testing.assert_array_equal(emu.read_register(Register.ANGLE_SET), 500)
    hand.close()


def test_garbage_before_replies_is_skipped(emu: InspireEmulator) -> None:
    hand = _hand(emu)
    emu.faults.garbage_prob = 1.0
    for _ in range(10):
        state = hand.read()
    assert state.fault is None
    assert hand.stats.garbage_bytes > 0
    hand.close()


def test_short_delay_tolerated_long_delay_faults(emu: InspireEmulator) -> None:
    hand = _hand(emu, timeout_s=0.03, retries=1, fault_after=2)
    emu.faults.reply_delay_s = 0.01
    assert hand.read().fault is None
    # far beyond deadline x attempts (a reply late by less may still answer the retry of the same request)
    emu.faults.reply_delay_s = 2.0
    t0 = time.monotonic()
    hand.read()
    state = hand.read()  # never raises
    # nominal 2 reads x 2 attempts x 0.03 s; waiting for even one late reply would take 2 s (a loaded
    # machine adds scheduling delay, never a second and a half)
    assert time.monotonic() - t0 < 1.0
    assert state.fault is not None and "no valid reply" in state.fault
    assert hand.stats.timeouts >= 4
    assert _diag(hand, "link").level == Diagnostic.ERROR
    hand.close()


def test_error_codes_latch_fault_until_recover(hand: InspireHand, emu: InspireEmulator) -> None:
    emu.set_error(2, int(ErrorBit.STALL | ErrorBit.OVER_CURRENT))
    state = hand.read()
    assert state.error[2] == 0x05
    assert state.fault is not None and "middle=STALL|OVER_CURRENT" in state.fault
    assert _diag(hand, "errors").level == Diagnostic.ERROR
    assert _diag(hand, "status").values["middle"] == "FAULT"
    # faulted: commands are refused, not sent
    before = emu.read_register(Register.ANGLE_SET).copy()
    hand.write(HandCommand(position=np.full(6, 1.0)))
    np.testing.assert_array_equal(emu.read_register(Register.ANGLE_SET), before)
    assert hand.stats.refused_writes == 1
    assert "refused" in _diag(hand, "fault").values["notes"]
    hand.recover()  # CLEAR_ERROR on the wire clears the hand's error register
    assert hand.read().fault is None
    assert hand.read().error[2] == 0
    hand.write(HandCommand(position=np.full(6, 1.0)))
    np.testing.assert_array_equal(emu.read_register(Register.ANGLE_SET), 0)


def test_temperature_warn_and_fault(hand: InspireHand, emu: InspireEmulator) -> None:
    emu.set_temperature([40, 40, 65, 40, 40, 40])
    assert hand.read().fault is None
    assert _diag(hand, "temperature").level == Diagnostic.WARN
    emu.set_temperature([40, 40, 80, 40, 40, 40])
    state = hand.read()
    assert state.fault is not None and "over-temperature: middle=80C" in state.fault
    assert _diag(hand, "temperature").level == Diagnostic.ERROR


def test_silent_device_faults_and_recovers(emu: InspireEmulator) -> None:
    hand = _hand(emu, timeout_s=0.03)
    good = hand.read()
    emu.faults.silent = True
    t0 = time.monotonic()
    states = [hand.read() for _ in range(3)]
    # bounded (nominal: reads x attempts x deadline = 0.36 s), never a hang; generous for a loaded machine
    assert time.monotonic() - t0 < 5.0
    assert states[-1].fault is not None
    np.testing.assert_array_equal(states[-1].position, good.position)  # last known, not invented
    hand.write(HandCommand(position=np.full(6, 0.9)))  # refused, no exception
    assert hand.stats.refused_writes == 1
    hand.recover()  # still silent: stays faulted
    assert hand.fault is not None
    emu.faults.silent = False
    hand.recover()
    assert hand.fault is None
    assert hand.read().fault is None
    hand.close()


def test_vanished_device_never_raises(emu: InspireEmulator) -> None:
    hand = _hand(emu, fault_after=2, retries=0)
    emu.stop()
    for _ in range(3):
        state = hand.read()
        hand.write(HandCommand(position=np.full(6, 0.5)))
    assert state.fault is not None
    hand.hold()
    hand.close()
    hand.close()  # idempotent


def test_configure_against_silent_device_raises_driver_error(emu: InspireEmulator) -> None:
    emu.faults.silent = True
    hand = InspireHand(InspireHandConfig(port=emu.port, timeout_s=0.01, retries=0))
    with pytest.raises(DriverError, match="did not answer"):
        hand.configure()
    with pytest.raises(DriverError, match="cannot open"):
        InspireHand(InspireHandConfig(port=str(emu.port) + "-missing")).configure()


def test_wrong_hand_id_is_ignored(emu: InspireEmulator) -> None:
    hand = InspireHand(InspireHandConfig(port=emu.port, hand_id=7, timeout_s=0.01, retries=0))
    with pytest.raises(DriverError):
        hand.configure()
    assert emu.stats.ignored >= 1


def test_write_before_activate_raises_and_sends_nothing(emu: InspireEmulator) -> None:
    hand = InspireHand(InspireHandConfig(port=emu.port))
    hand.configure()
    writes = emu.stats.writes
    with pytest.raises(LifecycleError, match=r"InspireHand id 1 on .*: write\(\) .* inactive; call activate\(\)"):
        hand.write(HandCommand(position=np.full(6, 1.0)))
    assert emu.stats.writes == writes
    hand.activate()
    with pytest.raises(ValueError, match="shape"):
        hand.write(HandCommand(position=np.zeros(5)))
    hand.close()


def test_hold_targets_measured_pose(hand: InspireHand, emu: InspireEmulator, plant: FirstOrderHandPlant) -> None:
    plant.max_rate = 500.0
    hand.write(HandCommand(position=np.full(6, 1.0)))
    time.sleep(0.1)
    hand.hold()
    held = emu.read_register(Register.ANGLE_SET)
    assert np.all(held > 0) and np.all(held < 1000)
    np.testing.assert_allclose(plant.target(), held)


def test_calibrate_ranges_finds_blocked_end(hand: InspireHand, plant: FirstOrderHandPlant) -> None:
    plant.obstacle[3] = 120.0  # index cannot close below raw 120
    cal = hand.calibrate_ranges(dofs=(3, 4), speed=1.0, settle_s=0.03, timeout_s=2.0)
    assert cal.closed_raw[3] == pytest.approx(120, abs=2)
    assert cal.open_raw[3] == pytest.approx(1000, abs=2)
    assert cal.closed_raw[4] == pytest.approx(0, abs=2)
    assert cal.closed_raw[0] == 0 and cal.open_raw[0] == 1000  # untouched DoFs keep the config
    # restored default force after the routine
    assert hand.config.default_force == 0.5


def test_closure_plant_adapter_round_trip() -> None:
    closure = {"v": np.zeros(6)}
    plant = ClosurePlant(lambda: closure["v"], lambda c: closure.update(v=np.asarray(c)))
    with InspireEmulator(plant) as emu:
        hand = _hand(emu)
        hand.write(HandCommand(position=np.array([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])))
        np.testing.assert_allclose(closure["v"], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], atol=1e-9)
        np.testing.assert_allclose(hand.read().position, closure["v"], atol=1e-3)
        hand.close()


def test_config_validation_errors() -> None:
    with pytest.raises(ValidationError, match="baudrate"):
        InspireHandConfig(port="x", baudrate=12345)
    with pytest.raises(ValidationError):
        InspireHandConfig(port="x", open_raw=(1000,) * 5)
    with pytest.raises(ValidationError):
        InspireHandConfig(port="x", bogus=1)


def test_calibration_file_round_trip_and_errors(tmp_path: Path) -> None:
    cal = HandCalibration(open_raw=(990,) * 6, closed_raw=(15, 20, 25, 30, 35, 40))
    path = tmp_path / "hand_ranges.yaml"
    save_calibration(cal, path)
    assert load_calibration(path) == cal
    cfg = InspireHandConfig(port="x").with_calibration(cal)
    assert cfg.calibration == cal
    np.testing.assert_allclose(cal.to_closure(cal.to_raw(np.full(6, 0.25))), 0.25)
    bad = tmp_path / "bad.yaml"
    bad.write_text("open_raw: [1000, 1000, 1000]\nclosed_raw: [0, 0, 0, 0, 0, 0]\n")
    with pytest.raises(CalibrationError, match=r"bad\.yaml: field 'open_raw'"):
        load_calibration(bad)
    bad.write_text("open_raw: [5, 5, 5, 5, 5, 5]\nclosed_raw: [0, 0, 0, 0, 0, 0]\n")
    with pytest.raises(CalibrationError, match="little"):
        load_calibration(bad)
    with pytest.raises(CalibrationError, match="cannot read"):
        load_calibration(tmp_path / "missing.yaml")


def test_emulated_baud_charges_wire_time() -> None:
    with InspireEmulator(FirstOrderHandPlant(), baudrate=115200) as emu:
        hand = _hand(emu)
        t0 = time.perf_counter()
        for _ in range(5):
            hand.read()
        per_read = (time.perf_counter() - t0) / 5
        # 9-byte request + 86-byte reply at 10 bits/byte: the pty alone would take ~0.2 ms
        assert per_read >= (9 + 86) * 10 / 115200
        hand.close()
