"""Node log lines printed above the status line while a graph runs in other processes."""

from __future__ import annotations

import re
from pathlib import Path

_DATE = re.compile(r"^\d{4}-\d\d-\d\d ")
_LEVEL = re.compile(r"\b(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b")


class LogTail:
    """New lines of the node log files at or above `level`, for printing above the status line.

    On a terminal the node processes write to their log files (not to the terminal, which would
    tear the status line); this shows what the terminal would have shown.
    """

    def __init__(self, paths: list[Path], level: int) -> None:
        import logging

        self.paths = paths
        self.level = level
        self.offsets: dict[Path, int] = {}
        self._levels = {n: logging.getLevelName(n) for n in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")}

    def new_lines(self) -> list[str]:
        out = []
        for p in self.paths:
            try:
                size = p.stat().st_size
            except OSError:
                continue
            off = self.offsets.get(p, 0)
            if size <= off:
                continue
            with open(p, "rb") as f:
                f.seek(off)
                data = f.read(size - off)
            cut = data.rfind(b"\n") + 1  # only whole lines
            self.offsets[p] = off + cut
            for raw in data[:cut].decode(errors="replace").splitlines():
                raw = _DATE.sub("", raw)  # the file's date prefix: the terminal line keeps the time of day
                m = _LEVEL.search(raw)
                if m is None or self._levels[m.group(1)] >= self.level:
                    out.append(raw)
        return out
