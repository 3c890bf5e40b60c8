"""CPU-burning neighbours for benchmarks that ask "and on a busy machine?" (busy loops at normal priority)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cpu_burners(n: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`n` processes spinning `while True: pass` for the duration of the block; always killed after."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(max(0, n))]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
            p.wait()
