"""The checks of `being-h0 doctor`, by family; ``being_h0_runtime.doctor`` runs them and prints the table.

- ``result``: ``CheckResult`` and the PASS / WARN / FAIL statuses
- ``devices``: arm, hand, camera
- ``host``: DDS interface, real-time kernel, CPU governor, package versions
- ``files``: calibration files, free disk space
"""

from .devices import check_arm, check_camera, check_hand
from .files import check_calibration, check_disk
from .host import (
    PACKAGES,
    check_cpu_governor,
    check_dds_interface,
    check_packages,
    check_realtime_kernel,
)
from .result import FAIL, PASS, WARN, CheckResult

__all__ = [
    "FAIL", "PACKAGES", "PASS", "WARN", "CheckResult", "check_arm", "check_calibration", "check_camera",
    "check_cpu_governor", "check_dds_interface", "check_disk", "check_hand", "check_packages", "check_realtime_kernel",
]
