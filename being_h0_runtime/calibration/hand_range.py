"""Inspire hand range calibration: which raw register value is "open" and "closed" for each DoF.

Why a guided routine: real units rarely reach raw 0 / 1000 exactly, and a
finger closing at full force onto the palm or the thumb can strip its linear
actuator. So each DoF is driven to both ends one at a time at low speed with
a low FORCE_SET (the driver's `calibrate_ranges`), the operator is told what
will move before it moves, and the result is stored as
`calibration/<rig>/hand_ranges.yaml`, which the hand driver's config takes
through `InspireHandConfig.with_calibration(file.hand_calibration())`.
"""

from __future__ import annotations

import datetime as _dt
from typing import Callable

from ..drivers.hand.inspire import InspireHand
from ..drivers.hand.inspire_config import InspireHandConfig
from ..rig import HAND_DOF_NAMES
from .schema import HandRangesFile

#: Force limit (FORCE_SET fraction) while closing: enough to overcome friction, too little to hurt anything.
DEFAULT_FORCE_LIMIT = 0.2


def calibrate_hand(config: InspireHandConfig, *, force_limit: float = DEFAULT_FORCE_LIMIT, speed: float = 0.3,
                   settle_s: float = 0.15, timeout_s: float = 5.0,
                   confirm: Callable[[str], bool] = lambda msg: True, say: Callable[[str], None] = print,
                   hand_name: str = "") -> HandRangesFile:
    """Run the guided range routine on one hand and return the validated file contents.

    `confirm(message)` is asked before anything moves (the CLI asks the
    operator; tests pass a function); returning False aborts.
    """
    if not 0.0 < force_limit <= 0.5:
        raise ValueError(f"force_limit {force_limit}: use a low limit in (0, 0.5] so fingers stop on contact")
    say(f"Hand range calibration on {config.port}: each DoF ({', '.join(HAND_DOF_NAMES)}) in turn opens fully, "
        f"then closes at speed {speed:g} with force limit {force_limit:g}, then returns.")
    if not confirm("Remove any object from the hand, keep fingers free to close. Start?"):
        raise RuntimeError("hand range calibration aborted by the operator")
    hand = InspireHand(config)
    try:
        hand.configure()
        hand.activate()
        cal = hand.calibrate_ranges(force_limit=force_limit, speed=speed, settle_s=settle_s, timeout_s=timeout_s)
    finally:
        hand.close()
    for name, o, c in zip(HAND_DOF_NAMES, cal.open_raw, cal.closed_raw):
        say(f"  {name:<15} open {o:5d}  closed {c:5d}")
    return HandRangesFile(date=_dt.date.today(), open_raw=cal.open_raw, closed_raw=cal.closed_raw,
                          force_limit=force_limit, hand=hand_name or config.port)
