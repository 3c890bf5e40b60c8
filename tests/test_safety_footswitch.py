"""Foot switch reader over a real pseudo-terminal (and pyserial's loop:// for modem lines)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import pytest
from helpers.waiting import wait_until
from pydantic import ValidationError

from being_h0_runtime.safety import EStopLatch, EStopResetRefused
from being_h0_runtime.safety.footswitch import FootSwitch, FootSwitchConfig


@pytest.fixture
def pty(pty_pair):
    """(master fd, the slave's device name): the foot switch opens the port by name, as on the rig."""
    master, slave = pty_pair
    return master, os.ttyname(slave)


wait_for = partial(wait_until, timeout=2.0, poll_s=0.002)


@contextmanager
def running(fs: FootSwitch) -> Iterator[FootSwitch]:
    """The reader thread started, then stopped and the port closed (also when the test fails)."""
    fs.start()
    try:
        yield fs
    finally:
        fs.stop()
        fs.close()


def test_byte_protocol_press_release_over_pty(pty):
    master, port = pty
    es = EStopLatch()
    with running(FootSwitch(FootSwitchConfig(port=port, protocol="byte"), es)) as fs:
        os.write(master, b"\x7f")  # noise is counted, not acted on
        os.write(master, b"\x01")
        assert wait_for(lambda: es.is_latched)
        assert fs.pressed and es.asserted_sources == {"footswitch": "foot switch pressed"}
        with pytest.raises(EStopResetRefused, match="footswitch"):
            es.reset("alice")
        os.write(master, b"\x00")
        assert wait_for(lambda: not fs.pressed)
        assert es.is_latched  # release does not resume
        es.reset("alice")
        assert not es.is_latched
        assert fs.unknown == 1 and fs.presses == 1


def test_line_protocol_and_trigger_latency_over_pty(pty):
    master, port = pty
    es = EStopLatch()
    with running(FootSwitch(FootSwitchConfig(port=port, protocol="line", press="STOP", release="GO"), es)) as fs:
        t0 = time.monotonic()
        os.write(master, b"ST")
        time.sleep(0.02)
        assert not es.is_latched  # half a line is nothing
        os.write(master, b"OP\r\n")
        assert wait_for(lambda: es.is_latched)
        lat = time.monotonic() - t0
        assert lat < 1.0
        os.write(master, b"GO\n")
        assert wait_for(lambda: not fs.pressed)


def test_momentary_pedal_triggers_without_asserting(pty):
    master, port = pty
    es = EStopLatch()
    fs = FootSwitch(FootSwitchConfig(port=port, protocol="byte", press="!", release=None), es)
    fs.open()
    os.write(master, b"!!")
    for _ in range(10):
        fs.poll_once()
    assert es.is_latched and es.trigger_count == 2 and not es.asserted_sources
    es.reset("bob")
    fs.close()


def test_link_loss_asserts_stop_until_restored(pty):
    master, port = pty
    es = EStopLatch()
    fs = FootSwitch(FootSwitchConfig(port=port, protocol="byte", reconnect_interval_s=0.01), es)
    fs.open()
    fs.poll_once()
    assert not es.is_latched
    os.close(master)  # the adapter goes away: reads on the slave fail
    for _ in range(5):
        fs.poll_once()
    assert es.is_latched and not fs.link_ok
    assert "footswitch:link" in es.asserted_sources
    with pytest.raises(EStopResetRefused, match="link lost"):
        es.reset("alice")
    fs.close()


def test_cts_polling_with_pyserial_loop_device():
    """pyserial's loop:// echoes RTS on CTS: a real modem-line round trip without hardware."""
    es = EStopLatch()
    fs = FootSwitch(FootSwitchConfig(port="loop://", protocol="cts", poll_interval_s=0.001), es)
    fs.open()
    fs.serial.rts = False
    fs.poll_once()
    assert not es.is_latched
    fs.serial.rts = True  # pedal pressed
    fs.poll_once()
    assert es.is_latched and fs.pressed
    fs.serial.rts = False
    fs.poll_once()
    assert not fs.pressed and es.is_latched
    es.reset("alice")
    fs.close()


def test_normally_closed_dsr_pedal():
    es = EStopLatch()
    fs = FootSwitch(FootSwitchConfig(port="loop://", protocol="dsr", active_high=False, poll_interval_s=0.001), es)
    fs.open()
    fs.serial.dtr = True  # circuit closed = not pressed
    fs.poll_once()
    assert not es.is_latched
    fs.serial.dtr = False  # opened (pressed or cable cut)
    fs.poll_once()
    assert es.is_latched
    fs.close()


def test_config_validation_names_field():
    with pytest.raises(ValidationError, match="press"):
        FootSwitchConfig(port="x", protocol="byte", press="AB")
    with pytest.raises(ValidationError, match="differ"):
        FootSwitchConfig(port="x", protocol="line", press="X", release="X")
    with pytest.raises(ValidationError, match="protocol"):
        FootSwitchConfig(port="x", protocol="usb")
    with pytest.raises(ValidationError, match="port"):
        FootSwitchConfig(port="")


def test_unopenable_port_asserts_stop():
    es = EStopLatch()
    fs = FootSwitch(FootSwitchConfig(port="/nonexistent/tty-for-test"), es)
    fs.start()
    try:
        assert wait_for(lambda: es.is_latched)
        assert "footswitch:link" in es.asserted_sources
    finally:
        fs.stop()
