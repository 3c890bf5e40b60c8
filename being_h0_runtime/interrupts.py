"""Ctrl-C and SIGTERM that cannot be lost.

Python turns SIGINT into a KeyboardInterrupt raised at whatever Python code runs next. When that
code is a finalizer (`__del__`, e.g. a DDS entity the garbage collector frees in the middle of a
console loop) or a callback from C, Python prints "Exception ignored in ..." and carries on: the
operator's Ctrl-C is gone and the graph keeps running. On a busy machine that window is hit often
enough to matter (it was the cause of `test_launch_stops_cleanly_on_ctrl_c` failing beside CPU
burners).

So the handler here records the request as well as raising, and each long-running loop of the
command-line tools calls `raise_if_requested()` once per turn: a swallowed interrupt is raised again
within one loop period. Where a KeyboardInterrupt is handled, `acknowledge()` clears the record so it
is not raised a second time during the orderly shutdown that follows.
"""
from __future__ import annotations

import signal
import threading
from types import FrameType

_requested = threading.Event()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _requested.set()
    raise KeyboardInterrupt


def install() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt and are remembered. Main thread only (Python's rule).

    A SIGINT that the parent set to ignored (a background job in a non-interactive shell, nohup)
    stays ignored, as it would without this module; a SIGINT or SIGTERM left *blocked* by the parent is
    unblocked.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    # A blocked signal mask is inherited through fork and exec: a parent thread that had SIGINT blocked (a C
    # library creating its threads, a test runner) would leave this process deaf to Ctrl-C for its whole life.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)  # systemd, `timeout`, a supervisor: as clean a stop as Ctrl-C


def requested() -> bool:
    """True after a SIGINT/SIGTERM that no handler has acknowledged yet."""
    return _requested.is_set()


def raise_if_requested() -> None:
    """Raise KeyboardInterrupt if an interrupt arrived and was swallowed before reaching its handler."""
    if _requested.is_set():
        _requested.clear()
        raise KeyboardInterrupt


def acknowledge() -> None:
    """The interrupt has been handled: the shutdown that follows must not see it again."""
    _requested.clear()
