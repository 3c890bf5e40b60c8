"""The control loop shared by the arm and hand nodes.

Every command, whatever its source (policy chunks, teleop, replay, homing),
goes through the same path each control cycle:

    driver.read() -> MotionGate (e-stop > fault > watchdog) -> executor / homing
        -> Supervisor (limits, NaN, steps) -> driver.write() or driver.hold()

Safety lives here, not in the policy (ARCHITECTURE rule 4).  A fault (NaN in a
chunk, driver fault, supervisor fault, e-stop) latches: motion resumes only
after an operator's reset (EStop engaged=False with an operator name) *and* a
fresh chunk.  A late or missing chunk is "stale": the node holds within one
cycle and resumes on the next fresh chunk.

Every motion node stops alike, whatever stopped it (ISSUE #16):

* a fault latched on this node is relayed on /estop (engaged, source
  "<node>:fault:<what>"), so every other motion node latches too;
* a foot switch wired to this node asserts the stop on its latch and is
  relayed as a *held* stop ("<node>:<switch source>", held=True), re-published
  every `estop_reassert_period_s` with its current state; every node refuses a
  reset while it has not heard that source's release;
* a latch or hold forgets every stored chunk, chunks that arrive while stopped
  are dropped, and after a reset only chunks whose observation is newer than
  the reset may run.

Structurally malformed chunks (bad step_dt, no steps, wrong sizes or names)
are rejected here with a safety event and change nothing: the node goes on
holding or executing its last valid plan. NaN/inf values latch a fault (the
policy itself is broken). No exception from a chunk reaches the executor loop.
"""

from __future__ import annotations

import abc
import math
import time
from collections import Counter, deque
from typing import Any

import numpy as np

from ..drivers.base import Diagnostic, DriverError
from ..msgs import ActionChunk, Bool, EStop, JointState, TaskStatus
from ..msgs.convert import joint_state
from ..policy.execution import make_executor
from ..realtime import RealtimeStatus, apply_realtime
from ..safety.cadence import CadenceMonitor
from ..safety.estop import EStopLatch, EStopResetRefused
from ..safety.footswitch import FootSwitch
from ..safety.limits import HandLimits, JointLimits, WorkspaceBox
from ..safety.supervisor import MotionGate, SoftStart, Supervisor
from ..safety.watchdog import Watchdog
from ..transport.api import COMMAND_QOS, ESTOP_QOS, LATCHED_QOS, NodeHandle, QoS
from .actuator_params import ActuatorParams, ExecutorConfig  # noqa: F401 - re-exported
from .base import RuntimeNode
from .chunk_check import CHUNK_STEP_DT_RANGE, MAX_CHUNK_STEPS, chunk_columns  # noqa: F401 - limits re-exported
from .estop_relay import EStopRelay

#: ActionChunk.engine_id of the teleop node's commands (nodes/teleop.py)
TELEOP_ENGINE_ID = "teleop"
#: entries kept in the node's hold and safety-event logs (oldest dropped)
EVENT_LOG_LEN = 1000


class ActuatorNode(RuntimeNode):
    """Subclasses define the joint group, its limits, its driver and how to command it."""

    joint_names: tuple[str, ...]

    def __init__(self, handle: NodeHandle, params: ActuatorParams | dict[str, Any], driver: Any = None) -> None:
        """`driver`: an already built driver (tests, benches); default: `make_driver()` at configure."""
        super().__init__(handle, params)
        self.p = self.params  # typed by the subclass (ArmParams, HandParams)
        self.dt = 1.0 / self.p.rate_hz
        self.driver = driver
        self.footswitch: FootSwitch | None = None

    # -- lifecycle (nodes/base.py) --------------------------------------------------
    def on_configure(self) -> None:
        handle, params = self.handle, self.p
        if self.driver is None:
            self.driver = self.make_driver()
        self._configure_driver(params.configure_timeout_s)
        self.limits = self.make_limits()
        self.supervisor = Supervisor(self.limits, params.safety, self.make_workspace())
        self.estop = EStopLatch(clock=handle.now)
        self.watchdog = Watchdog(params.watchdog_deadline_s)
        self.gate = MotionGate(self.estop, self.watchdog)
        self.executor = make_executor(params.executor.name, **params.executor.params)
        self.cadence = CadenceMonitor(self.dt)
        self._init_motion_state()
        self.estop_pub = handle.create_publisher(EStop, "/estop", ESTOP_QOS)
        self.relay = EStopRelay(handle.name, self.estop, self.estop_pub, params.estop_reassert_period_s,
                                params.footswitch.source if params.footswitch is not None else None)
        if params.footswitch is not None:
            # the pedal trips this node's latch from its own thread (no transport in the path);
            # control_cycle relays it on /estop so every other motion node holds too
            self.footswitch = FootSwitch(params.footswitch, self.estop, clock=handle.now)
            self.estop.subscribe(self.relay.on_local_estop_event)
            self.footswitch.start()
        self.state_pub = handle.create_publisher(JointState, "/joint_states", QoS("reliable", 10))  # as ros2_control
        self.command_pub = handle.create_publisher(JointState, f"/{self.group}/command", QoS("best_effort", 10))
        self.subscribe(ActionChunk, params.chunk_topic, self.on_chunk, COMMAND_QOS)
        # ESTOP_QOS (depth 16, every writer and reader): a stop and a relay arriving together must both be heard;
        # a late joiner replays each writer's recent stops and releases in order (across writers a replay can only
        # end latched, the safe side: the operator resets again). Heard while inactive too: the latch stays current.
        self.subscribe(EStop, "/estop", self.on_estop, ESTOP_QOS, while_inactive=True)
        self.subscribe(TaskStatus, "/task/status", self.on_task_status, LATCHED_QOS)
        # an operator's takeover (teleop clutch) cuts the policy's chunk: see on_teleop_intervention
        self.teleop_takeover = False
        self.subscribe(Bool, "/teleop/intervention", self.on_teleop_intervention, LATCHED_QOS, while_inactive=True)

    def _init_motion_state(self) -> None:
        self.holding = True
        self.driver_ready = False
        self.homing: SoftStart | None = None
        self.soft_start: SoftStart | None = None
        self.task_state = TaskStatus.IDLE
        self.last_command: np.ndarray | None = None
        self.chunks_received = 0
        #: chunks not executed, by why: malformed kinds, "stopped" (arrived while latched), "before_reset"
        self.chunks_dropped: Counter[str] = Counter()
        self.commands_written = 0
        self.hold_events: deque[tuple[float, str]] = deque(maxlen=EVENT_LOG_LEN)
        #: (time, kind, detail) of every rejected input, newest last
        self.safety_events: deque[tuple[float, str, str]] = deque(maxlen=EVENT_LOG_LEN)
        #: only chunks observed after the last accepted reset may run
        self.reset_stamp = -math.inf
        self.realtime = RealtimeStatus()

    def on_activate(self) -> None:
        self.driver.activate()
        if self.p.scheduling.priority is not None or self.p.scheduling.lock_memory:
            # activate() runs on the thread that spins this node's timers: that is the thread to raise
            self.realtime = apply_realtime(self.p.scheduling)
            if self.realtime.refused:
                self.log.warning("%s control loop: %s", self.group, self.realtime.summary())
        self.create_timer(self.dt, self.control_cycle)
        self.create_timer(self.p.report_period_s, self.report)

    def on_deactivate(self) -> None:
        """Hold: nothing stored before the deactivation may run after it (as after any hold)."""
        self.executor.reset()
        self.driver.hold()
        self.holding, self.last_command, self.soft_start = True, None, None
        self.supervisor.reset()
        self.driver.deactivate()

    def on_shutdown(self) -> None:
        if self.footswitch is not None:
            self.footswitch.stop()
        if self.driver is not None:
            self.driver.close()

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
        mine, problem = self._validate_chunk(msg)
        if mine is None:
            if problem == "nonfinite":
                # NaN/inf from the policy: the policy itself is broken, latch until an operator looks
                self._safety_event(now, "nonfinite", f"action chunk #{msg.sequence} contains NaN/inf")
                self.fault("chunk", f"action chunk #{msg.sequence} contains NaN/inf")
            return
        if self.homing is not None:
            return  # chunks computed before homing finished are not for us
        if self.estop.is_latched or self.gate.faults:
            self.chunks_dropped["stopped"] += 1  # computed for a world that stopped; never stored
            return
        if self.teleop_takeover and msg.engine_id != TELEOP_ENGINE_ID:
            self.chunks_dropped["teleop_takeover"] += 1  # a policy chunk in flight when the operator took over
            return
        obs = msg.source_stamp.to_sec()
        if not obs > self.reset_stamp:
            self.chunks_dropped["before_reset"] += 1  # observed before the operator's reset
            return
        try:
            self.executor.on_chunk(mine, obs, now, float(msg.step_dt))
        except (ValueError, ArithmeticError) as err:  # the checks above should make this unreachable
            self._reject_chunk(now, "executor", f"action chunk #{msg.sequence} refused by the executor: {err}")
            return
        self.chunks_received += 1
        self.watchdog.feed(now)

    def _validate_chunk(self, msg: ActionChunk) -> tuple[np.ndarray | None, str]:
        """This node's columns of the chunk as float64 (steps, joints), or None and why (safety event published,
        except for NaN/inf: the caller latches a fault for those)."""
        mine, kind, detail = chunk_columns(msg, self.joint_names)
        if mine is None and kind != "nonfinite":
            return self._reject_chunk(self.handle.now(), kind, detail)
        return mine, kind

    def _reject_chunk(self, now: float, kind: str, detail: str) -> tuple[None, str]:
        self.chunks_dropped[kind] += 1
        self._safety_event(now, kind, detail)
        return None, kind

    def _safety_event(self, now: float, kind: str, detail: str) -> None:
        self.safety_events.append((now, kind, detail))
        self.publish_diagnostics([Diagnostic(Diagnostic.ERROR, f"safety/chunk_{kind}", f"rejected: {detail}")])

    def on_estop(self, msg: EStop) -> None:
        now = self.handle.now()
        source = msg.source or "topic"
        if msg.engaged:
            if not msg.held:
                self.estop.trigger(source, msg.reason or "e-stop", now)
            elif source not in self.estop.asserted_sources:  # re-assertions of a known hold change nothing
                self.estop.set_asserted(source, True, msg.reason or "hardware stop held", now)
            self.executor.reset()  # nothing stored before a stop may run after it
            if self.active:
                self.control_cycle(relay=False)  # act now, not at the next tick (inactive: already holding)
        elif msg.operator.strip():
            try:
                self.gate.operator_reset(msg.operator, now)
            except EStopResetRefused as err:
                self.publish_diagnostics([Diagnostic(Diagnostic.WARN, "estop", f"reset refused: {err}")])
                return
            self.reset_stamp = now
            self.executor.reset()
            self.relay.relayed_faults.clear()
            self.log.warning("operator %s reset the e-stop/faults; waiting for a chunk observed after %.3f",
                             msg.operator, now)
        else:
            # a hardware source's release (not a reset): the latch stays set until an operator resets
            self.estop.set_asserted(source, False, msg.reason or "released", now)

    def on_teleop_intervention(self, msg: Bool) -> None:
        """DAgger takeover: cut the policy's chunk at once; only the operator's commands run until release."""
        if msg.data and not self.teleop_takeover:
            self.executor.reset()
        self.teleop_takeover = bool(msg.data)

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
        if self.active:  # (inactive: already holding; the first tick after activation relays it)
            self.control_cycle(relay=False)  # hold now, and relay the fault so the other motion nodes hold too

    # -- the loop ---------------------------------------------------------------
    def control_cycle(self, relay: bool = True) -> None:
        """One cycle. `relay=False` when acting at once on an input (e-stop, fault) between ticks."""
        now = self.handle.now()
        if relay:
            self.cadence.tick(now)
            try:
                self._cycle(now)
            finally:
                if not self.relay.relay_faults(now, self.gate.faults):  # a fault went out: the pedal's turn is next tick
                    self.relay.queue_footswitch(now)
                    self.relay.publish_one()
        else:
            try:
                self._cycle(now)
            finally:
                self.relay.relay_faults(now, self.gate.faults)

    def _cycle(self, now: float) -> None:
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
        if not decision.run:
            self.executor.reset()  # a latch or hold forgets every stored chunk
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
        self.commands_written += 1
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

    def health(self) -> list[Diagnostic]:
        rep = self.cadence.report()
        values = {k: str(v) for k, v in self.supervisor.counters.items()}
        values.update({f"hold_{k}": str(v) for k, v in self.gate.holds_by_reason.items()})
        values.update({f"chunks_dropped_{k}": str(v) for k, v in self.chunks_dropped.items()})
        values.update({"chunks": str(self.chunks_received), "commands": str(self.commands_written),
                       "cadence": rep.format(self.group), "scheduling": self.realtime.summary()})
        level = Diagnostic.ERROR if self.gate.faults else Diagnostic.OK
        msg = "; ".join(f"{k}: {v}" for k, v in self.gate.faults.items()) or ("holding" if self.holding else "moving")
        return [Diagnostic(level, "status", msg, values)] + self.driver.diagnostics()

    def report(self) -> None:
        self.publish_diagnostics(self.health())
