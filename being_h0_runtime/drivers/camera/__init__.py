"""Camera backends: `realsense` (pyrealsense2: live D4xx and `.db3` playback) and `sim` (the virtual rig).

Imported lazily so the virtual rig does not load librealsense unless asked.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module (below this package) that defines it
_LAZY = {"RealSenseCamera": "realsense", "RealSenseConfig": "realsense_config",
         "record_synthetic_db3": "realsense_record"}
__all__ = ["RealSenseCamera", "RealSenseConfig", "record_synthetic_db3"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
