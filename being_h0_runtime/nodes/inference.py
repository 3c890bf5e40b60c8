"""Inference node: observations in, action chunks out.

Every `replan_period_s` while the task is running it assembles the newest
image, proprio and instruction into an `Observation`, calls the policy and
publishes an `ActionChunk` stamped with the observation time (so executors
can compensate latency).  Stale inputs are refused, never silently used:
too old, or stamped before the current episode started running (they show
the scene before its reset, or the arm during homing).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Literal

import numpy as np
from pydantic import Field

from ..config import StrictModel
from ..drivers.base import Diagnostic
from ..msgs import ActionChunk, Bool, Image, JointState, SimState, TaskStatus
from ..msgs.convert import chunk_from_array, image_to_array, pose_to_arrays
from ..policy.base import Policy, PolicyError
from ..policy.factory import PolicyConfig, make_policy
from ..policy.spec import Observation
from ..transport.api import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS, NodeHandle, QoS
from .base import RuntimeNode


#: inference latencies kept for diagnostics and benchmarks
LATENCY_WINDOW = 1000


class InferenceParams(StrictModel):
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    #: None = half a chunk (asynchronous execution); the executor in the arm/hand nodes merges chunks
    replan_period_s: float | None = Field(None, gt=0)
    #: timer: infer every replan period on the newest frame (it is up to one camera period old);
    #: frame: infer as soon as a fresh frame arrives once a replan period has (nearly) passed, so the frame
    #: waits for nothing (camera -> action latency minus up to a camera period); the timer still runs as a
    #: fallback when frames stop coming
    trigger: Literal["timer", "frame"] = "timer"
    max_image_age_s: float = Field(0.5, gt=0)
    max_proprio_age_s: float = Field(0.2, gt=0)
    image_topic: str = "/camera/color/image_raw"
    #: also require a fresh image for policies that do not declare they need one
    require_image: bool = False
    only_while_running: bool = True


class InferenceNode(RuntimeNode):
    Params = InferenceParams

    def __init__(self, handle: NodeHandle, params: InferenceParams | dict[str, Any],
                 policy: Policy | None = None) -> None:
        """`policy`: an already built policy (tests, benches); default: `make_policy` at configure."""
        super().__init__(handle, params)
        self.p = self.params
        self.policy = policy
        self.joints: dict[str, tuple[float, float]] = {}  # name -> (position, stamp)
        self.image: np.ndarray | None = None
        self.image_stamp = -1.0
        self.privileged: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.task = TaskStatus()
        #: when the current episode started running (sim/wall time of its first RUNNING status): inputs stamped
        #: earlier are refused; -inf until an episode runs (only_while_running=False infers before any)
        self.episode_start = -float("inf")
        self.sequence = 0
        self.refusals = 0
        #: the newest inference latencies (s); a node runs for days, so only a window is kept
        self.latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        # while an operator has taken over by teleop, the policy must not fight them for the arm
        self.teleop_active = False
        self.last_infer_time = -float("inf")
        self.last_frame_trigger = -float("inf")

    def on_configure(self) -> None:
        handle, params = self.handle, self.p
        if self.policy is None:
            self.policy = make_policy(params.policy)
        self.spec = self.policy.spec
        self.policy.warmup()
        self._wanted = frozenset(self.spec.names)  # proprio the policy reads; other names are not stored
        self.chunk_pub = handle.create_publisher(ActionChunk, "/action_chunk", COMMAND_QOS)
        self.subscribe(Image, params.image_topic, self.on_image, SENSOR_QOS)
        self.subscribe(JointState, "/joint_states", self.on_joint_state, QoS("best_effort", 10))
        self.subscribe(SimState, "/sim/state", self.on_sim_state, QoS("best_effort", 2))
        self.subscribe(TaskStatus, "/task/status", self.on_task_status, LATCHED_QOS)
        self.subscribe(Bool, "/teleop/intervention", self.on_intervention, LATCHED_QOS)
        self.period = params.replan_period_s or self.spec.chunk_len * self.spec.step_dt / 2

    def on_activate(self) -> None:
        self.create_timer(self.period, self.on_timer)

    def health(self) -> list[Diagnostic]:
        lat = sorted(self.latencies)
        p50 = f"{lat[len(lat) // 2] * 1e3:.1f} ms" if lat else "-"
        return [Diagnostic(Diagnostic.OK, "policy", f"{self.sequence} chunks, {self.refusals} refusals",
                           {"engine_id": self.policy.engine_id, "chunks": self.sequence, "refusals": self.refusals,
                            "latency_p50": p50})]

    def on_image(self, msg: Image) -> None:
        try:
            self.image = image_to_array(msg)
            self.image_stamp = msg.header.stamp.to_sec()
        except ValueError as err:
            self.publish_diagnostics([Diagnostic(Diagnostic.ERROR, "image", f"malformed image: {err}")])
            return
        # a quarter period of slack: a frame due "at" the period, arriving a little early, still triggers
        now = self.handle.now()
        if self.p.trigger == "frame" and now - self.last_infer_time >= 0.75 * self.period:
            self.last_frame_trigger = now
            self.tick()

    def on_timer(self) -> None:
        if self.p.trigger == "frame" and self.handle.now() - self.last_frame_trigger < 1.5 * self.period:
            return  # frames are driving inference
        self.tick()

    def on_joint_state(self, msg: JointState) -> None:
        stamp = msg.header.stamp.to_sec()
        for name, pos in zip(msg.name, msg.position):
            if name in self._wanted:
                self.joints[name] = (float(pos), stamp)

    def on_sim_state(self, msg: SimState) -> None:
        self.privileged = {n: pose_to_arrays(p) for n, p in zip(msg.names, msg.poses)}

    def on_task_status(self, msg: TaskStatus) -> None:
        if msg.state == TaskStatus.RUNNING and (self.task.state != TaskStatus.RUNNING or msg.episode != self.task.episode):
            self.policy.reset()
            # the status that says RUNNING first is published at the transition; a node that joins mid-episode
            # sees a later periodic one, which only makes it wait one more frame
            self.episode_start = msg.header.stamp.to_sec()
        self.task = msg

    def on_intervention(self, msg: Bool) -> None:
        if self.teleop_active and not msg.data:
            self.policy.reset()  # the scene changed under the operator's hands
        self.teleop_active = msg.data

    def observation(self, now: float) -> Observation | None:
        """The newest observation, or None (with a diagnostic) when inputs are missing or stale."""
        problems = []
        names = self.spec.names
        missing = [n for n in names if n not in self.joints]
        if missing:
            problems.append(f"no proprio for {missing}")
        else:
            oldest = min(self.joints[n][1] for n in names)
            if now - oldest > self.p.max_proprio_age_s:
                problems.append(f"proprio is {now - oldest:.3f} s old (limit {self.p.max_proprio_age_s})")
            elif oldest < self.episode_start:
                problems.append(f"proprio stamped {self.episode_start - oldest:.3f} s before the episode started")
        if self.p.require_image or self.policy.needs_image:
            if self.image is None:
                problems.append("no camera image yet")
            elif now - self.image_stamp > self.p.max_image_age_s:
                problems.append(f"camera image is {now - self.image_stamp:.3f} s old (limit {self.p.max_image_age_s})")
            elif self.image_stamp < self.episode_start:
                # the frame shows the scene before its reset (over DDS under load, the first chunks used to come
                # from the previous episode's last frame and headed for where its toy had been)
                problems.append(f"camera image stamped {self.episode_start - self.image_stamp:.3f} s before the "
                                f"episode started")
        if problems:
            self.refusals += 1
            self.publish_diagnostics([Diagnostic(Diagnostic.WARN, "inputs", "; ".join(problems))])
            return None
        proprio = np.array([self.joints[n][0] for n in names])
        stamp = min([self.joints[n][1] for n in names] + ([self.image_stamp] if self.image is not None else []))
        return Observation(stamp=stamp, proprio=proprio, proprio_names=list(names), instruction=self.task.instruction,
                           image=self.image, privileged=self.privileged)

    def tick(self) -> None:
        if self.p.only_while_running and self.task.state != TaskStatus.RUNNING:
            return
        if self.teleop_active:
            return
        now = self.handle.now()
        obs = self.observation(now)
        if obs is None:
            return
        self.last_infer_time = now
        t0 = time.perf_counter()
        try:
            actions = self.policy.infer(obs)
        except PolicyError as err:
            self.publish_diagnostics([Diagnostic(Diagnostic.ERROR, "policy", str(err))])
            return
        self.latencies.append(time.perf_counter() - t0)
        self.sequence += 1
        self.chunk_pub.publish(
            chunk_from_array(actions, self.spec.names, self.spec.step_dt, stamp=self.handle.now(),
                             source_stamp=obs.stamp, engine_id=self.policy.engine_id, sequence=self.sequence)
        )
