"""A pickle that runs a shell command when loaded: what a malicious checkpoint (.pth / .bin) carries.

Converters must refuse such files, never execute them; the tests check that the marker file the
command would create does not appear."""

from __future__ import annotations

import os
from pathlib import Path


class ShellPayload:
    """Unpickling this runs `touch <marker>`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))
