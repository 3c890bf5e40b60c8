"""Logging for every process the runtime starts: one level from the command line, one file per run.

* The terminal shows what ``--log-level`` asks for (default WARNING; ``run -v`` means at least INFO).
* Every run writes a log file beside its outputs at INFO or finer, whatever the terminal shows: the
  console process writes ``<run dir>/being-h0.log``, each node process ``<run dir>/<node>.log``
  (`node_main`), so a run that went wrong can be read afterwards even when the terminal was quiet.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

__all__ = ["FILE_FORMAT", "LEVELS", "RUN_LOG_NAME", "add_run_log", "configure", "for_workers", "init_worker",
           "parse_level", "verbose_level"]

#: the console process's log file in a run directory (node processes write <node>.log beside it)
RUN_LOG_NAME = "being-h0.log"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FILE_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def parse_level(value: str | int) -> int:
    """'info', 'INFO', '20' or 20 -> 20; anything else is a ValueError naming the allowed levels."""
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    level = logging.getLevelName(text.upper())
    if not isinstance(level, int):
        raise ValueError(f"unknown log level {value!r}; use one of {', '.join(LEVELS)}")
    return level


def verbose_level(level: str | int, verbose: bool) -> str:
    """The level name for `level`, lowered to INFO when `verbose` (``-v``) asks for more."""
    n = parse_level(level)
    if verbose:
        n = min(n, logging.INFO)
    return logging.getLevelName(n)


def _file_handler(path: Path, level: int, fmt: str) -> logging.FileHandler:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(fmt))
    return handler


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def configure(level: str | int, log_file: Path | str | None = None, prefix: str = "") -> None:
    """Root logging for one process: stderr at `level`, `log_file` (if any) at min(level, INFO).

    When stderr already is `log_file` (the launcher redirected a node's output there) there is one
    handler, on stderr, at min(level, INFO): the same lines, once, and tracebacks in order with them.
    """
    term = parse_level(level)
    file_level = min(term, logging.INFO)
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_being_h0", False):
            root.removeHandler(h)
            h.close()
    stream_fmt = f"{prefix} %(levelname)s %(message)s".lstrip() if prefix else "%(name)s %(levelname)s %(message)s"
    handlers: list[logging.Handler] = []
    path = Path(log_file) if log_file else None
    stderr_is_file = path is not None and path.exists() and _same_file(sys.stderr.fileno(), path)
    stream = logging.StreamHandler(sys.stderr)
    stream.setLevel(file_level if stderr_is_file else term)
    stream.setFormatter(logging.Formatter(FILE_FORMAT if stderr_is_file else stream_fmt))
    handlers.append(stream)
    if path is not None and not stderr_is_file:
        handlers.append(_file_handler(path, file_level, FILE_FORMAT))
    for h in handlers:
        h._being_h0 = True  # type: ignore[attr-defined]
        root.addHandler(h)
    root.setLevel(min(h.level for h in handlers))


def add_run_log(run_dir: Path | str, name: str = RUN_LOG_NAME) -> Path:
    """Also write this process's log to ``run_dir/name`` at INFO or finer; the terminal stays as it was.

    The root logger's level is lowered to let INFO through to the file, so the terminal's stream
    handlers are given the old root level first (they keep showing exactly what they showed).
    """
    path = Path(run_dir) / name
    root = logging.getLogger()
    old = root.getEffectiveLevel()
    for h in root.handlers:
        if type(h) is logging.StreamHandler and getattr(h, "stream", None) in (sys.stderr, sys.stdout) \
                and h.level < old:
            h.setLevel(old)
    level = min(old, logging.INFO)
    for h in root.handlers:
        if isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path.absolute():
            return path  # already writing there
    handler = _file_handler(path, level, FILE_FORMAT)
    handler._being_h0 = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return path


def for_workers() -> tuple[int, str | None]:
    """This process's (terminal level, run log file), to hand to `init_worker` in spawned workers."""
    root = logging.getLogger()
    term = next((h.level for h in root.handlers if type(h) is logging.StreamHandler and h.level), root.level)
    run_log = next((h.baseFilename for h in root.handlers
                    if isinstance(h, logging.FileHandler) and getattr(h, "_being_h0", False)), None)
    return term or logging.WARNING, run_log


def init_worker(term_level: int, run_log: str | None) -> None:
    """Pool initializer: a spawned worker logs like its parent (same terminal level, same run log file)."""
    configure(term_level)
    if run_log:
        add_run_log(Path(run_log).parent, Path(run_log).name)
