"""Ctrl-C cannot be lost: a KeyboardInterrupt swallowed by a finalizer is raised again by the loop."""
from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from being_h0_runtime import interrupts

# the swallowed interrupts below are the point; pytest reports each one as an unraisable-exception warning
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def installed() -> Iterator[None]:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    # as a fresh process starts (an earlier test in this process may have left its own SIGINT handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupts.acknowledge()
    interrupts.install()
    try:
        yield
    finally:
        interrupts.acknowledge()
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])


class _InterruptedWhileCollected:
    """Stands for a DDS entity whose __del__ runs when the signal arrives."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)
        sum(range(10))  # Python code after the signal: the interrupt is raised here, inside __del__


def _turn_of_a_loop() -> None:
    _InterruptedWhileCollected()  # created and collected at once, as in a spin


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_swallowed_by_a_finalizer_is_raised_at_the_next_check(installed: None, signum: int) -> None:
    class Collected:
        def __del__(self) -> None:
            signal.raise_signal(signum)
            sum(range(10))

    Collected()  # Python prints "Exception ignored in ... __del__" and goes on: the interrupt is lost...
    assert interrupts.requested()
    with pytest.raises(KeyboardInterrupt):
        interrupts.raise_if_requested()  # ...but the loop's check raises it again
    interrupts.raise_if_requested()  # once only


def test_a_loop_with_the_check_stops_within_one_turn(installed: None) -> None:
    turns = 0
    with pytest.raises(KeyboardInterrupt):
        for turns in range(1, 100):
            _turn_of_a_loop()
            interrupts.raise_if_requested()
    assert turns == 1


def test_a_handled_interrupt_is_not_raised_again(installed: None) -> None:
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
        sum(range(10))
    interrupts.acknowledge()  # what every `except KeyboardInterrupt` in the CLI does
    interrupts.raise_if_requested()  # the orderly shutdown goes on undisturbed


def test_an_ignored_sigint_stays_ignored() -> None:
    """nohup / a background job: the parent set SIGINT to ignored; installing must not undo that."""
    code = ("import signal; from being_h0_runtime import interrupts; interrupts.install(); "
            "print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN, signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]


def test_a_blocked_sigint_inherited_from_the_parent_is_unblocked() -> None:
    """The signal mask survives fork and exec: a CLI started by a thread that had SIGINT blocked was deaf to
    Ctrl-C (the launcher in test_launch_stops_cleanly_on_ctrl_c kept running 240 s after its SIGINT)."""
    code = ("import signal; from being_h0_runtime import interrupts; "
            "print(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []), end=' '); interrupts.install(); "
            "print(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False,
                         preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]
