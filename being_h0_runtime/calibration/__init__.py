"""Rig calibration: camera intrinsics, fixed-camera hand-eye (T_base_camera), Inspire hand ranges.

Files live in `calibration/<rig>/` (see calibration/README.md); `schema` validates them,
`check_calibration` says whether a task may start, `being-h0 calibrate ...` writes them.
"""

from .schema import (Finding, HandEyeFile, HandRangesFile, IntrinsicsFile, check_calibration, load_hand_eye,
                     load_hand_ranges, load_intrinsics, require_calibration)

__all__ = ["Finding", "HandEyeFile", "HandRangesFile", "IntrinsicsFile", "check_calibration", "load_hand_eye",
           "load_hand_ranges", "load_intrinsics", "require_calibration"]
