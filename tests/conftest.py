"""Shared test set-up.

Network guard (loopback only): the whole suite runs with ``BEING_H0_LOOPBACK_ONLY=1`` (inherited by
every node process a test spawns) and with Python's socket connect/send wrapped, so a test that
tries to reach any address outside 127.0.0.0/8 fails with that address in the message.  Cyclone DDS
participants are loopback-only by the project's own configuration (transport/dds_network.py), which
tests/test_dds_loopback.py checks from Cyclone's own trace.
"""

from __future__ import annotations

import os

import pytest

from being_h0_runtime import netguard
from being_h0_runtime.transport.dds_network import SIM_DOMAINS

os.environ[netguard.ENV] = "1"
netguard.install_socket_guard()


def sim_domain(offset: int) -> int:
    """A DDS domain id for one test's graph: in the sim range, spread by pid so parallel runs differ."""
    return SIM_DOMAINS.start + (os.getpid() + offset) % len(SIM_DOMAINS)


@pytest.fixture
def loopback_only_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(netguard.ENV, "1")
