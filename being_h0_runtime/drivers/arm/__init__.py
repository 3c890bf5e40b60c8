"""Arm backends: `franka` (franky/libfranka, real hardware).

The real backend is imported lazily so that `import being_h0_runtime.drivers.arm`
does not load franky (and libfranka) on machines that only run the virtual rig.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FrankaArm", "FrankaConfig"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import franka

        return getattr(franka, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
