"""The inference node infers only from inputs stamped after the current episode started running.

Over DDS under CPU load the first chunks of an episode were computed from the
previous episode's last camera frame (fresh enough by age, but showing the
scene before its reset), and headed for where the old toy had been.
"""

from __future__ import annotations

import numpy as np

from being_h0_runtime.msgs import ActionChunk, Image, JointState, TaskStatus
from being_h0_runtime.msgs.convert import header, image_from_array, joint_state
from being_h0_runtime.nodes.inference import InferenceNode, InferenceParams
from being_h0_runtime.policy.base import Policy
from being_h0_runtime.policy.spec import Observation, default_action_spec
from being_h0_runtime.transport.api import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS, QoS
from being_h0_runtime.transport.inproc import InprocContext


class StampRecordingPolicy(Policy):
    """Needs an image; records each observation's image and proprio stamps; returns a 'stay here' chunk."""

    engine_id = "stamp-recorder"
    needs_image = True

    def __init__(self) -> None:
        self.spec = default_action_spec()
        self.calls: list[Observation] = []

    def infer(self, obs: Observation) -> np.ndarray:
        self.calls.append(obs)
        proprio = dict(zip(obs.proprio_names, obs.proprio))
        return np.tile(np.asarray([proprio[n] for n in self.spec.names], np.float32), (self.spec.chunk_len, 1))


class Rig:
    """Stands in for the rig: joint states every 10 ms, camera frames only when asked, /task/status."""

    def __init__(self, ctx: InprocContext) -> None:
        self.ctx = ctx
        h = ctx.create_node("fake_rig")
        self.status = h.create_publisher(TaskStatus, "/task/status", LATCHED_QOS)
        self.image = h.create_publisher(Image, "/camera/color/image_raw", SENSOR_QOS)
        joints = h.create_publisher(JointState, "/joint_states", QoS("best_effort", 10))
        names = list(default_action_spec().names)
        h.create_timer(0.01, lambda: joints.publish(joint_state(names, np.zeros(len(names)), stamp=ctx.now())))
        self.chunks: list[ActionChunk] = []
        h.create_subscription(ActionChunk, "/action_chunk", self.chunks.append, COMMAND_QOS)

    def frame(self) -> float:
        stamp = self.ctx.now()
        self.image.publish(image_from_array(np.zeros((24, 32, 3), np.uint8), "rgb8", stamp, "camera"))
        return stamp

    def set_state(self, state: str, episode: int) -> float:
        stamp = self.ctx.now()
        self.status.publish(TaskStatus(header=header(stamp), state=state, episode=episode, task_id="t"))
        return stamp


def test_a_frame_from_before_the_episode_started_is_refused_until_a_fresh_one_arrives() -> None:
    ctx = InprocContext()
    policy = StampRecordingPolicy()
    node = InferenceNode(ctx.create_node("inference"), InferenceParams(replan_period_s=0.05), policy=policy)
    node.bring_up()
    rig = Rig(ctx)
    rig.set_state(TaskStatus.HOMING, 1)
    ctx.run_for(0.5)
    old_frame = rig.frame()  # the scene before the reset, 0.1 s before the episode starts running
    ctx.run_for(0.1)
    start = rig.set_state(TaskStatus.RUNNING, 1)
    ctx.run_for(0.3)  # the old frame is 0.4 s old: fresh by age (limit 0.5 s), but from before the start
    assert old_frame < start
    assert policy.calls == [] and rig.chunks == [], "inferred from a frame taken before the episode started"
    assert node.refusals > 0
    rig.frame()
    ctx.run_for(0.1)
    # an observation's stamp is its oldest input's: at or after the start means neither frame nor proprio predate it
    assert policy.calls and all(o.stamp >= start for o in policy.calls)
    assert rig.chunks and all(c.source_stamp.to_sec() >= start for c in rig.chunks)
    node.shutdown()
    ctx.shutdown()


def test_each_new_episode_moves_the_start_on() -> None:
    ctx = InprocContext()
    policy = StampRecordingPolicy()
    node = InferenceNode(ctx.create_node("inference"), InferenceParams(replan_period_s=0.05), policy=policy)
    node.bring_up()
    rig = Rig(ctx)
    rig.set_state(TaskStatus.RUNNING, 1)
    ctx.run_for(0.05)
    rig.frame()
    ctx.run_for(0.2)
    n_first = len(policy.calls)
    assert n_first > 0  # episode 1 runs on its frames
    rig.set_state(TaskStatus.SUCCEEDED, 1)
    ctx.run_for(0.05)
    start2 = rig.set_state(TaskStatus.RUNNING, 2)  # straight into the next episode, no new frame yet
    ctx.run_for(0.2)
    assert len(policy.calls) == n_first, "episode 2 inferred from episode 1's frame"
    rig.frame()
    ctx.run_for(0.1)
    assert len(policy.calls) > n_first and all(o.stamp >= start2 for o in policy.calls[n_first:])
    node.shutdown()
    ctx.shutdown()
