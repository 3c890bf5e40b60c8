"""What the safety filter reports: each change or refusal (`Intervention`) and a cycle's outcome (`FilterResult`).

Nodes count clamps, publish rejections at once and latch faults (see nodes/actuator.py);
`HoldCycle` is how a filter step ends its cycle in a hold (caught in `Supervisor.filter`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class Intervention:
    """One thing the supervisor changed or refused, for counters and diagnostics."""

    kind: str  # shape | nonfinite | bad_dt | position | velocity | acceleration | step | workspace | infeasible
    action: Literal["clamp", "reject"]
    dims: tuple[int, ...] = ()
    detail: str = ""
    #: True for inputs that mean something upstream is broken (NaN, wrong shape):
    #: the gate latches these until an operator resets.
    fault: bool = False


@dataclass
class FilterResult:
    command: np.ndarray | None
    hold: bool
    interventions: list[Intervention] = field(default_factory=list)
    #: (command - reference) / dt; pass it back as `prev_vel` next cycle
    velocity: np.ndarray | None = None

    @property
    def fault(self) -> bool:
        return any(i.fault for i in self.interventions)


class HoldCycle(Exception):
    """Raised by a filter step that found something it cannot fix: this cycle holds, for these reasons."""

    def __init__(self, interventions: list[Intervention]) -> None:
        super().__init__(interventions)
        self.interventions = interventions
