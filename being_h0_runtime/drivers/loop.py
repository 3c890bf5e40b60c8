"""A driver's background loop (the Franka sender, the RealSense grabber): started by activate(), ended by close()."""

from __future__ import annotations

import threading
from collections.abc import Callable


class DriverLoop:
    """One daemon thread running `target` until `stopping` is set.

    `target` checks ``stopping`` and waits on `wake` (the driver's condition);
    :meth:`stop` sets the flag, wakes it and joins it, so a loop blocked in a
    wait ends promptly. start() after a start() is a no-op.
    """

    def __init__(self, target: Callable[[], None], name: str, wake: threading.Condition,
                 join_timeout_s: float) -> None:
        self.stopping = threading.Event()
        self._target = target
        self._name = name
        self._wake = wake
        self._join_timeout_s = join_timeout_s
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            return
        self.stopping.clear()
        self._thread = threading.Thread(target=self._target, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to end, wake it, wait up to the join timeout (idempotent)."""
        self.stopping.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self._join_timeout_s)
            self._thread = None
