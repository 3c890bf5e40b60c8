"""Loopback only: the suite's guard refuses non-loopback destinations, with the address in the message."""

from __future__ import annotations

import socket

import pytest

from being_h0_runtime import netguard
from being_h0_runtime.drivers.arm.franka_config import FrankaConfig
from being_h0_runtime.drivers.arm.franka_link import connect_franky, probe_fci


def test_guard_is_installed_for_the_whole_suite() -> None:
    assert netguard.loopback_only()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s, pytest.raises(netguard.NonLoopbackTraffic,
                                                                                match="172.16.0.2:1337"):
        s.connect(("172.16.0.2", 1337))


@pytest.mark.parametrize("addr", ["192.168.1.20", "10.0.0.1", "8.8.8.8", "239.255.0.1"])
def test_udp_sendto_outside_loopback_is_refused(addr: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, pytest.raises(netguard.NonLoopbackTraffic,
                                                                               match=addr):
        s.sendto(b"x", (addr, 7400))


def test_loopback_traffic_still_works() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, socket.socket(socket.AF_INET,
                                                                                socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        tx.sendto(b"ping", rx.getsockname())
        assert rx.recv(16) == b"ping"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # refused, but allowed to try
        assert s.connect_ex(("127.0.0.1", 1)) != 0


def test_franka_connect_refuses_a_rig_address_before_libfranka_sees_it() -> None:
    # libfranka opens its sockets in C++, where the Python guard cannot see: the driver checks first
    with pytest.raises(netguard.NonLoopbackTraffic, match="libfranka connect: refusing to contact 172.16.0.2"):
        connect_franky(FrankaConfig(ip="172.16.0.2"))
    with pytest.raises(netguard.NonLoopbackTraffic, match="172.16.0.2:1337"):
        probe_fci("172.16.0.2", 0.1)


def test_check_destination_is_off_outside_loopback_only_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(netguard.ENV, "0")
    netguard.check_destination("172.16.0.2", 1337, "x")  # no error: a real rig may be contacted
    monkeypatch.setenv(netguard.ENV, "1")
    with pytest.raises(netguard.NonLoopbackTraffic):
        netguard.check_destination("172.16.0.2", 1337, "x")
    netguard.check_destination("127.0.0.1", 1337, "x")
    netguard.check_destination("localhost", 1337, "x")
    netguard.check_destination("::1", 1337, "x")
