"""Where files go when a command is not told: a per-user data folder, never the working directory.

Commands that write (calibration results, recordings) take an explicit output
folder; without one they use `user_data_dir()`, so running a command from the
repository root cannot overwrite files the repository ships (for example
calibration/virtual).  Files shipped with the checkout are found through
`SHIPPED_DIR`, which does not depend on the working directory either.
"""

from __future__ import annotations

import os
from pathlib import Path

#: this checkout (for files shipped with it: calibration/virtual, launch/, models/)
SHIPPED_DIR = Path(__file__).resolve().parent.parent


def user_data_dir(*parts: str) -> Path:
    """$BEING_H0_DATA_DIR, else $XDG_DATA_HOME/being-h0, else ~/.local/share/being-h0 (joined with `parts`)."""
    root = os.environ.get("BEING_H0_DATA_DIR")
    if not root:
        xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        root = str(Path(xdg) / "being-h0")
    return Path(root).expanduser().joinpath(*parts)
