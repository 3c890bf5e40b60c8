"""The control loop shared by the arm and hand nodes.

Every command, whatever its source (policy chunks, teleop, replay, homing),
goes through the same path each control cycle:

    driver.read() -> MotionGate (e-stop > fault > watchdog) -> executor / homing
        -> Supervisor (limits, NaN, steps) -> driver.write() or driver.hold()

Safety lives here, not in the policy (ARCHITECTURE rule 4).  A fault (NaN or
malformed chunk, driver fault, e-stop) latches: motion resumes only after an
operator's reset (EStop engaged=False with an operator name) *and* a fresh
chunk.  A late or missing chunk is "stale": the node holds within one cycle
and resumes on the next fresh chunk.
"""

from __future__ import annotations

import abc
import time
from typing import Any

import numpy as np
from pydantic import Field

from ..config import StrictModel
from ..drivers.base import Diagnostic, DriverError
from ..msgs import ActionChunk, EStop, JointState, TaskStatus
from ..msgs.convert import chunk_to_array, header, joint_state
from ..policy.execution import make_executor
from ..safety.cadence import CadenceMonitor
from ..safety.estop import EStopLatch, EStopResetRefused
from ..safety.footswitch import FootSwitch, FootSwitchConfig
from ..safety.limits import HandLimits, JointLimits, SafetyConfig, WorkspaceBox
from ..safety.supervisor import MotionGate, SoftStart, Supervisor
from ..safety.watchdog import Watchdog
from ..transport.api import COMMAND_QOS, LATCHED_QOS, NodeHandle, QoS
from .base import RuntimeNode


class ExecutorConfig(StrictModel):
    #: sync | async | ensemble | crossfade (see policy/execution.py)
    name: str = "async"
    params: dict[str, Any] = Field(default_factory=dict)


class ActuatorParams(StrictModel):
    backend: str = "sim"
    #: backend options passed to the driver's config model
    options: dict[str, Any] = Field(default_factory=dict)
    rate_hz: float = Field(100.0, gt=0, le=2000)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    #: no fresh chunk for this long => hold (stale); resumes on the next fresh chunk
    watchdog_deadline_s: float = Field(1.0, gt=0)
    soft_start_s: float = Field(0.5, ge=0)
    chunk_topic: str = "/action_chunk"
    #: keep retrying driver.configure() this long (devices powering up, a busy machine at start-up)
    configure_timeout_s: float = Field(10.0, ge=0)
    #: optional USB/serial foot switch wired to this node's e-stop latch (and relayed on /estop to the graph)
    footswitch: FootSwitchConfig | None = None
    #: diagnostics (counters, cadence) publish period
    report_period_s: float = Field(1.0, gt=0)


class ActuatorNode(RuntimeNode):
    """Subclasses define the joint group, its limits, its driver and how to command it."""

    joint_names: tuple[str, ...]

    def __init__(self, handle: NodeHandle, params: ActuatorParams, driver: Any = None) -> None:
        super().__init__(handle, params)
        self.p = params
        self.dt = 1.0 / params.rate_hz
        self.driver = driver or self.make_driver()
        self._configure_driver(params.configure_timeout_s)
        self.driver.activate()
        self.limits = self.make_limits()
        self.supervisor = Supervisor(self.limits, params.safety, self.make_workspace())
        self.estop = EStopLatch(clock=handle.now)
        self.watchdog = Watchdog(params.watchdog_deadline_s)
        self.gate = MotionGate(self.estop, self.watchdog)
        self.executor = make_executor(params.executor.name, **params.executor.params)
        self.cadence = CadenceMonitor(self.dt)
        self.holding = True
        self.driver_ready = False
        self.homing: SoftStart | None = None
        self.soft_start: SoftStart | None = None
        self.task_state = TaskStatus.IDLE
        self.last_command: np.ndarray | None = None
        self.chunks_received = 0
        self.hold_events: list[tuple[float, str]] = []
        self.estop_pub = handle.create_publisher(EStop, "/estop", LATCHED_QOS)
        self.footswitch: FootSwitch | None = None
        self._relayed_events = 0
        if params.footswitch is not None:
            # the pedal trips this node's latch from its own thread (no transport in the path);
            # control_cycle relays it on /estop so every other motion node holds too
            self.footswitch = FootSwitch(params.footswitch, self.estop, clock=handle.now)
            self.footswitch.start()
        self.state_pub = handle.create_publisher(JointState, "/joint_states", QoS("reliable", 10))  # as ros2_control
        self.command_pub = handle.create_publisher(JointState, f"/{self.group}/command", QoS("best_effort", 10))
        handle.create_subscription(ActionChunk, params.chunk_topic, self.on_chunk, COMMAND_QOS)
        handle.create_subscription(EStop, "/estop", self.on_estop, LATCHED_QOS)
        handle.create_subscription(TaskStatus, "/task/status", self.on_task_status, LATCHED_QOS)
        handle.create_timer(self.dt, self.control_cycle)
        handle.create_timer(params.report_period_s, self.report)

    def _configure_driver(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s  # wall time: hardware does not follow sim time
        while True:
            try:
                self.driver.configure()
                return
            except DriverError as err:
                if time.monotonic() >= deadline:
                    raise
                self.log.warning("%s driver not ready (%s); retrying", self.group, err)
                self.driver.close()
                time.sleep(0.5)
                self.driver = self.make_driver()  # a fresh driver: no fault latched by the failed attempt

    # -- subclass hooks -------------------------------------------------------------
    group: str = "actuator"

    @abc.abstractmethod
    def make_driver(self) -> Any: ...

    @abc.abstractmethod
    def make_limits(self) -> JointLimits | HandLimits: ...

    @abc.abstractmethod
    def read_state(self) -> tuple[np.ndarray, np.ndarray | None, str | None, float]:
        """(position, velocity or None, fault or None, stamp) from the driver."""

    @abc.abstractmethod
    def write_command(self, q: np.ndarray, velocity: np.ndarray | None) -> None: ...

    def home_position(self) -> np.ndarray | None:
        return None

    def make_workspace(self) -> WorkspaceBox | None:
        return None

    # -- inputs -----------------------------------------------------------------
    def on_chunk(self, msg: ActionChunk) -> None:
        now = self.handle.now()
        try:
            chunk = chunk_to_array(msg)
            idx = [msg.names.index(n) for n in self.joint_names]
        except ValueError as err:
            self.fault("chunk", f"malformed action chunk #{msg.sequence}: {err}")
            return
        mine = chunk[:, idx].astype(np.float64)
        if not np.all(np.isfinite(mine)):
            self.fault("chunk", f"action chunk #{msg.sequence} contains NaN/inf")
            return
        if self.homing is not None:
            return  # chunks computed before homing finished are not for us
        self.chunks_received += 1
        self.executor.on_chunk(mine, msg.source_stamp.to_sec(), now, msg.step_dt)
        self.watchdog.feed(now)

    def on_estop(self, msg: EStop) -> None:
        now = self.handle.now()
        if msg.engaged:
            self.estop.trigger(msg.source or "topic", msg.reason or "e-stop", now)
            self.control_cycle()  # act now, not at the next tick
        else:
            try:
                self.gate.operator_reset(msg.operator, now)
                self.log.warning("operator %s reset the e-stop/faults; waiting for a fresh command", msg.operator)
            except EStopResetRefused as err:
                self.publish_diagnostics([Diagnostic(Diagnostic.WARN, "estop", f"reset refused: {err}")])

    def on_task_status(self, msg: TaskStatus) -> None:
        if msg.state == TaskStatus.HOMING and self.task_state != TaskStatus.HOMING:
            self.executor = make_executor(self.p.executor.name, **self.p.executor.params)
            q, _, fault, _ = self.read_state()
            home = self.home_position()
            if home is not None and fault is None and np.all(np.isfinite(q)):
                self.homing = SoftStart(q, home, self.handle.now(), self.p.soft_start_s, self.supervisor.limits)
        elif msg.state != TaskStatus.HOMING:
            self.homing = None
        if msg.state in TaskStatus.TERMINAL and self.task_state not in TaskStatus.TERMINAL:
            # the episode is over: stop executing what is left of the last chunk
            self.executor = make_executor(self.p.executor.name, **self.p.executor.params)
            self.watchdog.check(float("inf"))
        self.task_state = msg.state

    def fault(self, source: str, reason: str) -> None:
        self.gate.fault(source, reason)
        self.publish_diagnostics([Diagnostic(Diagnostic.ERROR, source, reason)])
        self.control_cycle()

    # -- the loop ---------------------------------------------------------------
    def _relay_local_estop(self) -> None:
        if self.footswitch is None:
            return
        events = self.estop.events
        for ev in events[self._relayed_events:]:
            if ev.kind in ("trigger", "assert") and ev.source.startswith(self.footswitch.config.source):
                self.estop_pub.publish(EStop(header=header(self.handle.now()), engaged=True,
                                             source=f"{self.handle.name}:{ev.source}", reason=ev.reason))
        self._relayed_events = len(events)

    def control_cycle(self) -> None:
        now = self.handle.now()
        self.cadence.tick(now)
        self._relay_local_estop()
        q, dq, fault, stamp = self.read_state()
        if fault is None and np.all(np.isfinite(q)):
            self.driver_ready = True
            self.state_pub.publish(joint_state(self.joint_names, q, dq if dq is not None else (), stamp=now))
        elif not self.driver_ready:
            # never had a valid state (link still coming up): hold, but this is not a fault to latch
            self._hold(now, f"waiting for the first state from the {self.group} driver")
            return
        elif fault is not None and fault not in self.gate.faults.values():
            self.gate.fault("driver", fault)
        if self.homing is not None:
            self.watchdog.feed(now)  # the homing planner is this cycle's fresh command source
        decision = self.gate.decide(now)
        target = None
        if decision.run:
            if self.homing is not None:
                target = self.homing.sample(now)
            else:
                target = self.executor.action_at(now)
                if target is not None and decision.resumed and self.p.soft_start_s > 0 and self.last_command is None:
                    self.soft_start = SoftStart(q, target, now, self.p.soft_start_s, self.supervisor.limits)
                if self.soft_start is not None and target is not None:
                    if self.soft_start.done(now):
                        self.soft_start = None
                    else:
                        target = self.soft_start.sample(now)
        if target is None:
            self._hold(now, decision.reason if not decision.run else "no action for this cycle")
            return
        result = self.supervisor.step(target, q, self.dt, dq)
        # clamps are counted and summarised in report(); rejections are published at once
        rejected = [iv for iv in result.interventions if iv.action == "reject" or iv.fault]
        if rejected:
            self.publish_diagnostics([Diagnostic(Diagnostic.ERROR, f"safety/{iv.kind}", f"{iv.action}: {iv.detail}")
                                      for iv in rejected])
        self.gate.report(result, "supervisor")
        if result.hold or result.command is None:
            self._hold(now, "supervisor rejected the command")
            return
        self.holding = False
        self.last_command = result.command
        self.write_command(result.command, result.velocity)
        self.command_pub.publish(joint_state(self.joint_names, result.command, stamp=now))

    def _hold(self, now: float, reason: str) -> None:
        if not self.holding:
            self.driver.hold()
            self.holding = True
            self.last_command = None
            self.soft_start = None
            self.supervisor.reset()
            self.hold_events.append((now, reason))
            self.publish_diagnostics([Diagnostic(Diagnostic.WARN, "hold", reason)])

    def report(self) -> None:
        rep = self.cadence.report()
        values = {k: str(v) for k, v in self.supervisor.counters.items()}
        values.update({f"hold_{k}": str(v) for k, v in self.gate.holds_by_reason.items()})
        values.update({"chunks": str(self.chunks_received), "cadence": rep.format(self.group)})
        level = Diagnostic.ERROR if self.gate.faults else Diagnostic.OK
        msg = "; ".join(f"{k}: {v}" for k, v in self.gate.faults.items()) or ("holding" if self.holding else "moving")
        self.publish_diagnostics([Diagnostic(level, "status", msg, values)] + self.driver.diagnostics())

    def close(self) -> None:
        if self.footswitch is not None:
            self.footswitch.stop()
        try:
            self.driver.hold()
            self.driver.deactivate()
        finally:
            self.driver.close()
