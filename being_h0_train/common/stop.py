"""Stop a training loop cleanly on SIGTERM / SIGINT: the loop saves a checkpoint, then returns.

A training stage can be cut off at any moment (a closed laptop lid, a scheduler's SIGTERM, Ctrl-C).
Inside ``with GracefulStop() as stop:`` the first such signal only sets ``stop.signal``; the loop
checks ``stop.requested`` after each step, writes its checkpoint and returns, so a re-run resumes
exactly there.  A second signal raises KeyboardInterrupt at once (the periodic checkpoint is then
what a re-run resumes from).  Outside the main thread no handler can be installed and the
loop simply never sees a request.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Self

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GracefulStop:
    def __init__(self) -> None:
        #: the signal number that asked to stop, or None
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def exit_code(self) -> int:
        """The shell's convention for 'stopped by signal N': 128 + N (130 Ctrl-C, 143 SIGTERM)."""
        return 128 + int(self.signal or 0)
