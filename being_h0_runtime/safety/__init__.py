"""Safety: limits, the per-cycle supervisor, the watchdog, the latched e-stop.

Lives in the arm and hand nodes (never in the policy), so every command
source - policy, teleop, replay - goes through it. Typical node wiring::

    sup = Supervisor(franka_fr3_limits(), SafetyConfig(), workspace=None)
    gate = MotionGate(EStopLatch(), Watchdog(deadline_s=0.2))
    # on every fresh chunk / command: gate.watchdog.feed(now)
    d = gate.decide(now)
    if not d.run:
        driver.hold(); sup.reset()
    else:
        res = sup.step(target, state.q, dt)
        gate.report(res)            # NaN / wrong shape latch a fault
        driver.hold() if res.hold else driver.write(ArmCommand(res.command))
"""

from being_h0_runtime.safety.cadence import CadenceMonitor, CadenceReport
from being_h0_runtime.safety.estop import EStopEvent, EStopLatch, EStopResetRefused
from being_h0_runtime.safety.limits import (
    HandLimits,
    JointLimits,
    MarginConfig,
    ModeConfig,
    SafetyConfig,
    WorkspaceBox,
    WorkspaceConfig,
    franka_fr3_limits,
)
from being_h0_runtime.safety.supervisor import (
    FilterResult,
    GateDecision,
    Intervention,
    MotionGate,
    SoftStart,
    Supervisor,
)
from being_h0_runtime.safety.watchdog import Watchdog

# footswitch (pyserial) is imported on demand: being_h0_runtime.safety.footswitch

__all__ = [
    "CadenceMonitor",
    "CadenceReport",
    "EStopEvent",
    "EStopLatch",
    "EStopResetRefused",
    "FilterResult",
    "GateDecision",
    "HandLimits",
    "Intervention",
    "JointLimits",
    "MarginConfig",
    "ModeConfig",
    "MotionGate",
    "SafetyConfig",
    "SoftStart",
    "Supervisor",
    "Watchdog",
    "WorkspaceBox",
    "WorkspaceConfig",
    "franka_fr3_limits",
]
