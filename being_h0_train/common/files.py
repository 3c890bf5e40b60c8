"""Write a directory under a temporary name and swap it in whole: a crash never leaves half a checkpoint."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replace_dir(final: Path, tmp_suffix: str = ".tmp") -> Iterator[Path]:
    """Yield an empty ``<final><tmp_suffix>`` directory; on normal exit it replaces ``final``.

    A stale temporary directory (a crash mid-write) is cleared first. On an exception
    the temporary directory stays for inspection and ``final`` is untouched. The swap
    removes the old ``final`` then renames, so a crash between the two leaves only the
    complete temporary directory, never a mix of old and new files under ``final``.
    """
    tmp = final.with_name(final.name + tmp_suffix)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    yield tmp
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)


def prune_dirs(parent: Path, pattern: str, keep: int) -> None:
    """Remove all but the `keep` last (by name) complete directories matching `pattern` in `parent`.

    Checkpoint directories are named so that name order is step order (``step_0001000``).
    """
    found = sorted(d for d in parent.glob(pattern) if d.is_dir() and not d.name.endswith(".tmp"))
    for d in found[:-keep] if keep > 0 else found:
        shutil.rmtree(d, ignore_errors=True)
