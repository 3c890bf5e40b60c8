"""The motion gate: one run/hold decision per control cycle from the e-stop, latched faults and the watchdog."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from being_h0_runtime.safety.estop import EStopLatch, EStopResetRefused
from being_h0_runtime.safety.interventions import FilterResult
from being_h0_runtime.safety.watchdog import Watchdog


@dataclass(frozen=True)
class GateDecision:
    action: Literal["run", "hold"]
    reason: str
    #: True on the first "run" after any hold: the node should soft-start
    resumed: bool = False

    @property
    def run(self) -> bool:
        return self.action == "run"


class MotionGate:
    """One run/hold decision per control cycle from e-stop, faults and the watchdog.

    Priority: e-stop > latched fault > watchdog. An e-stop is also latched
    here as a fault, so resetting only the e-stop latch does not resume; the
    single way back is `operator_reset(operator)`, and after it motion still
    waits for a fresh command (the watchdog's "waiting" state).
    """

    def __init__(self, estop: EStopLatch | None = None, watchdog: Watchdog | None = None) -> None:
        self.estop = estop if estop is not None else EStopLatch()
        self.watchdog = watchdog
        self._faults: dict[str, str] = {}
        self._seen_triggers = self.estop.trigger_count
        self._was_run = False
        self.holds_by_reason: Counter[str] = Counter()

    @property
    def faults(self) -> dict[str, str]:
        return dict(self._faults)

    def fault(self, source: str, reason: str) -> None:
        """Latch a fault (driver fault, NaN command, ...) until operator_reset()."""
        self._faults[source] = reason
        if self.watchdog is not None:
            self.watchdog.fault(f"{source}: {reason}")

    def report(self, result: FilterResult, source: str = "supervisor") -> None:
        """Feed a supervisor result in: faults among its interventions latch the gate."""
        if result.fault:
            self.fault(source, "; ".join(f"{i.kind}: {i.detail}" for i in result.interventions if i.fault))

    def decide(self, now: float) -> GateDecision:
        # trigger_count also catches a trigger that was reset before we looked
        if self.estop.is_latched or self.estop.trigger_count != self._seen_triggers:
            self._seen_triggers = self.estop.trigger_count
            if "estop" not in self._faults:
                ev = self.estop.last_trigger
                self.fault("estop", f"{ev.source}: {ev.reason}" if ev else "latched")
            return self._hold("estop", f"e-stop: {self._faults['estop']}")
        if self._faults:
            src, why = next(iter(self._faults.items()))
            return self._hold("fault", f"fault ({src}): {why}; operator reset required")
        if self.watchdog is not None and self.watchdog.check(now):
            st = self.watchdog.state
            return self._hold(st, "no command yet" if st == "waiting" else f"watchdog {st}")
        resumed = not self._was_run
        self._was_run = True
        return GateDecision("run", "ok", resumed)

    def _hold(self, key: str, reason: str) -> GateDecision:
        self._was_run = False
        self.holds_by_reason[key] += 1
        return GateDecision("hold", reason)

    def operator_reset(self, operator: str, now: float | None = None) -> None:
        """Clear e-stop latch, faults and watchdog fault. Raises EStopResetRefused if not allowed."""
        if not isinstance(operator, str) or not operator.strip():
            raise EStopResetRefused("operator reset needs the operator's name")
        if self.estop.is_latched:
            self.estop.reset(operator, now)
        self._faults.clear()
        if self.watchdog is not None:
            self.watchdog.operator_reset()
