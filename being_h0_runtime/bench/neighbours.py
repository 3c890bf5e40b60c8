"""CPU-burning neighbours for benchmarks that ask "and on a busy machine?" (busy loops at normal priority)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: a pure-Python busy loop (issue #18's `while True: pass`) that also ends once its parent is gone: a bench killed
#: with SIGKILL, which runs no `finally`, must not leave neighbours burning a shared machine (checked every ~10 ms;
#: the parent's pid comes as an argument, since the parent may die before this interpreter has even started)
BURNER = ("import os, sys\nparent = int(sys.argv[1])\n"
          "while os.getppid() == parent:\n    for _ in range(100_000): pass\n")


@contextmanager
def cpu_burners(n: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`n` processes spinning a busy loop for the duration of the block; always killed after."""
    procs = [subprocess.Popen([sys.executable, "-c", BURNER, str(os.getpid())]) for _ in range(max(0, n))]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
            p.wait()
