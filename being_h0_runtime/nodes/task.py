"""Task node: the operator's instruction, start/stop, and the episode state machine.

    idle --start--> homing --arm at home--> running --success--> succeeded
                      |                        |--time limit--> timeout
                      |                        |--stop--------> aborted
                      '--homing time limit---> failed

An e-stop does not end the episode: the arm and hand hold (they latch it) and the
episode stays where it was, its message saying it is held, until an operator resets
the e-stop (the episode resumes with chunks observed after the reset) or stops it
(aborted). The time limit keeps running through a hold; a timeout during a hold says so.

Success comes from the virtual rig's judgement (/sim/state) on the virtual rig,
or from an operator's mark_success / mark_failure command on the real rig.
Status is published transient-local on every change and at 2 Hz.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from ..config import StrictModel
from ..drivers.base import Diagnostic
from ..msgs import EStop, JointState, SimState, TaskCommand, TaskStatus
from ..msgs.convert import header
from ..rig import ARM_JOINT_NAMES, READY_Q
from ..transport.api import COMMAND_QOS, ESTOP_QOS, LATCHED_QOS, NodeHandle, QoS
from .base import RuntimeNode


class TaskParams(StrictModel):
    task_id: str = "pick_place_toy"
    instruction: str = "pick up the toy and put it in the box"
    time_limit_s: float = Field(60.0, gt=0)
    homing_time_limit_s: float = Field(15.0, gt=0)
    home_q: list[float] = Field(default_factory=lambda: list(READY_Q), min_length=7, max_length=7)
    home_tolerance_rad: float = Field(0.05, gt=0)
    success_source: Literal["sim", "operator"] = "sim"
    #: success must hold this long (objects at rest in the box, not bouncing through)
    success_hold_s: float = Field(0.5, ge=0)
    status_rate_hz: float = Field(2.0, gt=0)


class TaskNode(RuntimeNode):
    Params = TaskParams

    def __init__(self, handle: NodeHandle, params: TaskParams | dict[str, Any]) -> None:
        super().__init__(handle, params)
        self.p = self.params
        self.state = TaskStatus.IDLE
        self.task_id = self.p.task_id
        self.instruction = self.p.instruction
        self.episode = 0
        self.started_at = 0.0
        self.ended_at = 0.0
        self.state_since = 0.0
        self.message = ""
        self.success_since: float | None = None
        self.arm_q: np.ndarray | None = None
        self.estop_engaged = False
        self.estop_reason = ""
        #: on a virtual rig (success judged from /sim/state): the seed of the scene the rig shows, and the seed
        #: this episode asked for; homing ends only once they match (the rig has reset the scene for it)
        self.scene_seed: int | None = None
        self.episode_seed: int | None = None

    def on_configure(self) -> None:
        self.status_pub = self.handle.create_publisher(TaskStatus, "/task/status", LATCHED_QOS)
        self.subscribe(TaskCommand, "/task/command", self.on_command, COMMAND_QOS)
        self.subscribe(JointState, "/joint_states", self.on_joint_state, QoS("best_effort", 5))
        # the episode's e-stop state stays current while inactive (a start is refused while it is latched)
        self.subscribe(EStop, "/estop", self.on_estop, ESTOP_QOS, while_inactive=True)
        if self.p.success_source == "sim":
            self.subscribe(SimState, "/sim/state", self.on_sim_state, QoS("best_effort", 2))

    def on_activate(self) -> None:
        self.create_timer(0.02, self.tick)
        self.create_timer(1.0 / self.p.status_rate_hz, self.publish_status)
        self.publish_status()

    def health(self) -> list[Diagnostic]:
        return [Diagnostic(Diagnostic.OK, "episode", f"episode {self.episode}: {self.state}",
                           {"task_id": self.task_id, "state": self.state, "message": self.message})]

    # -- inputs ------------------------------------------------------------------
    def on_command(self, cmd: TaskCommand) -> None:
        now = self.handle.now()
        if cmd.command == TaskCommand.START:
            if self.state in (TaskStatus.HOMING, TaskStatus.RUNNING):
                self.log.warning("start ignored: episode %d is %s", self.episode, self.state)
                return
            if self.estop_engaged:
                self._set(TaskStatus.ABORTED, "e-stop is latched; reset it before starting")
                return
            self.task_id = cmd.task_id or self.p.task_id
            self.instruction = cmd.instruction or self.p.instruction
            self.episode = cmd.episode
            self.episode_seed = int(cmd.seed) if self.p.success_source == "sim" else None
            self.started_at = now
            self.success_since = None
            self._set(TaskStatus.HOMING, f"homing before episode {self.episode}")
        elif cmd.command == TaskCommand.STOP and self.state in (TaskStatus.HOMING, TaskStatus.RUNNING):
            self._set(TaskStatus.ABORTED, f"stopped by operator {cmd.operator or '?'}")
        elif cmd.command in (TaskCommand.MARK_SUCCESS, TaskCommand.MARK_FAILURE):
            if self.state == TaskStatus.RUNNING:
                ok = cmd.command == TaskCommand.MARK_SUCCESS
                self._set(TaskStatus.SUCCEEDED if ok else TaskStatus.FAILED, f"marked by operator {cmd.operator or '?'}")
        else:
            self.log.warning("unknown or out-of-state task command %r in state %s", cmd.command, self.state)

    def on_joint_state(self, msg: JointState) -> None:
        idx = {n: i for i, n in enumerate(msg.name)}
        if all(n in idx for n in ARM_JOINT_NAMES) and len(msg.position) == len(msg.name):
            self.arm_q = np.array([msg.position[idx[n]] for n in ARM_JOINT_NAMES])

    def on_estop(self, msg: EStop) -> None:
        if not msg.engaged and not msg.operator.strip():
            return  # a foot switch's release (or a nameless reset): the motion nodes stay latched
        was_engaged, self.estop_engaged = self.estop_engaged, msg.engaged
        active = self.state in (TaskStatus.HOMING, TaskStatus.RUNNING)
        if msg.engaged and not was_engaged:
            self.estop_reason = f"{msg.source or '?'}: {msg.reason or 'e-stop'}"
            if active:
                self.message = f"held by e-stop from {self.estop_reason}; arm and hand hold until reset"
                self.log.warning("episode %d: %s", self.episode, self.message)
                self.publish_status()
        elif not msg.engaged and was_engaged:
            if active:
                self.message = (self.instruction if self.state == TaskStatus.RUNNING
                                else f"homing before episode {self.episode}")
                self.log.warning("episode %d: e-stop reset by %s; resuming", self.episode, msg.operator)
                self.publish_status()

    def on_sim_state(self, msg: SimState) -> None:
        self.scene_seed = int(msg.seed)
        if self.state != TaskStatus.RUNNING:
            return
        now = self.handle.now()
        if msg.success:
            if self.success_since is None:
                self.success_since = now
            elif now - self.success_since >= self.p.success_hold_s:
                self._set(TaskStatus.SUCCEEDED, "success judged from simulator state")
        else:
            self.success_since = None

    # -- state machine -------------------------------------------------------------
    def tick(self) -> None:
        now = self.handle.now()
        if self.state == TaskStatus.HOMING:
            # the scene must be this episode's before the policy sees it: an episode that started on the old
            # scene computed its first chunks from a frame whose toy was elsewhere (seen under CPU load)
            scene_ready = self.episode_seed is None or self.scene_seed == self.episode_seed
            at_home = self.arm_q is not None and np.max(np.abs(self.arm_q - np.array(self.p.home_q))) < self.p.home_tolerance_rad
            if scene_ready and at_home:
                self._set(TaskStatus.RUNNING, self.instruction)
            elif now - self.state_since > self.p.homing_time_limit_s:
                self._set(TaskStatus.FAILED, "arm did not reach home within the homing time limit" + self._held())
        elif self.state == TaskStatus.RUNNING and now - self.state_since > self.p.time_limit_s:
            self._set(TaskStatus.TIMEOUT, f"time limit {self.p.time_limit_s:g} s reached" + self._held())

    def _held(self) -> str:
        return f" while held by e-stop from {self.estop_reason}" if self.estop_engaged else ""

    def _set(self, state: str, message: str) -> None:
        self.state, self.message, self.state_since = state, message, self.handle.now()
        if state in TaskStatus.TERMINAL:
            self.ended_at = self.state_since  # elapsed stops with the episode
        self.log.info("episode %d: %s (%s)", self.episode, state, message)
        self.publish_status()

    def publish_status(self) -> None:
        now = self.handle.now()
        if self.state == TaskStatus.IDLE:
            elapsed = 0.0
        elif self.state in TaskStatus.TERMINAL:
            elapsed = self.ended_at - self.started_at
        else:
            elapsed = now - self.started_at
        self.status_pub.publish(
            TaskStatus(header=header(now), task_id=self.task_id, instruction=self.instruction, state=self.state,
                       episode=self.episode, elapsed=elapsed, success=self.state == TaskStatus.SUCCEEDED,
                       message=self.message)
        )
