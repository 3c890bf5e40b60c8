"""The Inspire hand driver against its emulator: a fast plant, the emulator on a pty, an active driver.

`plant` and `emu` are pytest fixtures, available to every test (tests/conftest.py loads this module as a
plugin); a test module that defines its own fixture of the same name uses its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from being_h0_runtime.drivers.hand import (
    FirstOrderHandPlant,
    InspireEmulator,
    InspireHand,
    InspireHandConfig,
)


@pytest.fixture
def plant() -> FirstOrderHandPlant:
    return FirstOrderHandPlant(max_rate=20000.0)  # fast fingers keep the tests short


@pytest.fixture
def emu(plant: FirstOrderHandPlant) -> Iterator[InspireEmulator]:
    with InspireEmulator(plant) as e:
        yield e


def open_hand(emu: InspireEmulator, **kw) -> InspireHand:
    """A configured and activated driver on the emulator's port; `kw` overrides the config."""
    cfg = {"port": emu.port, "timeout_s": 0.1, "retries": 2, "fault_after": 3}  # generous: the host is loaded
    cfg.update(kw)
    hand = InspireHand(InspireHandConfig(**cfg))
    hand.configure()
    hand.activate()
    return hand
