"""Virtual-rig arm: commands and state travel over the transport to the
virtual rig node, as they travel over Ethernet (FCI) to a real Franka."""

from __future__ import annotations

import numpy as np

from ...msgs import JointState, PoseStamped
from ...msgs.convert import joint_state, pose_to_arrays
from ...transport.api import COMMAND_QOS, NodeHandle, QoS
from ..base import ARM_JOINT_NAMES, ArmCommand, ArmDriver, ArmState, Diagnostic

SIM_ARM_COMMAND_TOPIC = "/sim/arm/command"
SIM_ARM_STATE_TOPIC = "/sim/arm/joint_states"
SIM_ARM_EE_TOPIC = "/sim/arm/ee_pose"


class SimArm(ArmDriver):
    """An empty-position JointState on the command topic means "hold where you are"."""

    def __init__(self, handle: NodeHandle) -> None:
        self._handle = handle
        self._state: ArmState | None = None
        self._ee = (np.zeros(3), np.array([0.0, 0.0, 0.0, 1.0]))
        self._pub = None

    def _on_configure(self) -> None:
        self._pub = self._handle.create_publisher(JointState, SIM_ARM_COMMAND_TOPIC, COMMAND_QOS)
        self._handle.create_subscription(JointState, SIM_ARM_STATE_TOPIC, self._on_state, QoS("best_effort", 2))
        self._handle.create_subscription(PoseStamped, SIM_ARM_EE_TOPIC, self._on_ee, QoS("best_effort", 2))

    def _on_state(self, msg: JointState) -> None:
        self._state = ArmState(stamp=msg.header.stamp.to_sec(), q=np.array(msg.position), dq=np.array(msg.velocity),
                               tau=np.array(msg.effort), ee_position=self._ee[0], ee_orientation=self._ee[1], mode="move")

    def _on_ee(self, msg: PoseStamped) -> None:
        self._ee = pose_to_arrays(msg.pose)

    @property
    def connected(self) -> bool:
        return self._state is not None

    def _read_state(self) -> ArmState:
        if self._state is None:
            nan = np.full(7, np.nan)
            return ArmState(stamp=self._handle.now(), q=nan, dq=nan, tau=nan, ee_position=np.full(3, np.nan),
                            ee_orientation=np.array([0.0, 0.0, 0.0, 1.0]), mode="disconnected",
                            fault="no state from the virtual rig yet")
        return self._state

    def _write_command(self, command: ArmCommand) -> None:
        assert self._pub is not None  # created by configure(), which the lifecycle ran first
        vel = () if command.velocity is None else command.velocity
        self._pub.publish(joint_state(ARM_JOINT_NAMES, command.q, vel, stamp=self._handle.now()))

    def _hold_position(self) -> None:
        assert self._pub is not None
        self._pub.publish(joint_state(ARM_JOINT_NAMES, (), stamp=self._handle.now()))

    def diagnostics(self) -> list[Diagnostic]:
        if self._state is None:
            return [Diagnostic(Diagnostic.STALE, "sim arm", "no state from the virtual rig yet")]
        return []
