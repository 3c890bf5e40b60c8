"""Camera backends: `realsense` (pyrealsense2: live D4xx and `.db3` playback).

Imported lazily so the virtual rig does not load librealsense unless asked.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RealSenseCamera", "RealSenseConfig", "record_synthetic_db3"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import realsense

        return getattr(realsense, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
