"""Arm backends: `franka` (franky/libfranka, real hardware) and `sim` (the virtual rig).

The real backend is imported lazily so that `import being_h0_runtime.drivers.arm`
does not load franky (and libfranka) on machines that only run the virtual rig.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module (below this package) that defines it
_LAZY = {"FrankaArm": "franka", "FrankaConfig": "franka_config"}
__all__ = ["FrankaArm", "FrankaConfig"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
