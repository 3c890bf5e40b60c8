"""TeleopNode: hand-tracking packets over UDP -> arm + hand targets, and the takeover flag.

Output (chosen so that everything goes through the actuators' safety filter):

- ``/action_chunk`` (being_h0_msgs/ActionChunk, configurable ``chunk_topic``):
  a chunk of **one step**, names fr3_joint1..7 + little..thumb_rotation,
  data = [arm joint targets (rad), Inspire closures (0..1)], engine_id "teleop".
  Published for every poll that received packets while the clutch is held
  (or always, with ``publish_when_released``, for pure teleop data collection).
- ``/teleop/intervention`` (std_msgs/Bool, transient-local): True when the
  operator takes over (clutch closes), False on release or when packets stop
  for ``stale_timeout_s``.  The recorder turns these into DAgger intervals;
  a policy node should stop publishing chunks while it is True.

The UDP socket is drained by a timer (``poll_rate_hz``, default 250 Hz), so
the node needs no thread; the added latency is at most one poll period.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..drivers.base import Diagnostic
from ..msgs import Bool, JointState
from ..msgs.being_h0 import ActionChunk
from ..msgs.convert import chunk_from_array
from ..rig import ARM_JOINT_NAMES as ARM_JOINTS
from ..rig import READY_Q as HOME_Q
from ..teleop.handmodel import INSPIRE_DOFS
from ..teleop.retarget import ArmRetargeter, FkFn, HandCalibration, HandRetargeter, IkFn, franka_kinematics
from ..teleop.schema import TeleopFrame
from ..teleop.server import UdpTeleopServer, is_loopback
from ..transport.api import COMMAND_QOS, LATCHED_QOS, NodeHandle, QoS
from .base import RuntimeNode


class TeleopParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(9870, ge=0, le=65535)
    #: shared secret; required when host is not a loopback address
    token: str = ""
    #: per-operator hand calibration YAML (teleop.retarget.HandCalibration); nominal hand if unset
    calibration_file: Path | None = None
    poll_rate_hz: float = Field(250.0, gt=0, le=2000)
    chunk_topic: str = "/action_chunk"
    arm_joints: list[str] = Field(default_factory=lambda: list(ARM_JOINTS))
    hand_joints: list[str] = Field(default_factory=lambda: list(INSPIRE_DOFS))
    home_q: list[float] = Field(default_factory=lambda: list(HOME_Q))
    scale: float = Field(1.0, gt=0, le=5)
    #: rotation (row-major 3x3) from the tracker's frame to the robot base frame
    tracker_to_robot: list[float] = Field(default_factory=lambda: [1, 0, 0, 0, 1, 0, 0, 0, 1])
    publish_when_released: bool = False
    stale_timeout_s: float = Field(0.5, gt=0)
    #: how long each published command stays valid (the 1-step chunk's step_dt): a little longer than the
    #: gap between device frames, so the arm holds the target until the next one instead of starving
    command_hold_s: float = Field(0.1, gt=0, le=1.0)
    hand_min_cutoff: float = Field(1.5, gt=0)
    hand_beta: float = Field(0.5, ge=0)

    @model_validator(mode="after")
    def _check(self) -> TeleopParams:
        if not is_loopback(self.host) and not self.token:
            raise ValueError(f"token: required when host is {self.host!r} (not loopback)")
        if len(self.tracker_to_robot) != 9:
            raise ValueError("tracker_to_robot: 9 numbers (row-major 3x3)")
        if len(self.home_q) != len(self.arm_joints):
            raise ValueError(f"home_q: {len(self.arm_joints)} values, one per arm joint")
        if len(self.hand_joints) != 6:
            raise ValueError(f"hand_joints: the 6 Inspire DoF names, got {len(self.hand_joints)}")
        return self


class TeleopNode(RuntimeNode):
    Params = TeleopParams

    def __init__(self, handle: NodeHandle, params: TeleopParams | dict[str, Any],
                 ik: IkFn | None = None, fk: FkFn | None = None) -> None:
        """`ik`/`fk` come from the rig (the virtual rig's MuJoCo IK); default: Franka DH + numerical IK."""
        super().__init__(handle, params)
        self.p = self.params
        self._ik, self._fk = ik, fk
        self.server: UdpTeleopServer | None = None
        self.names = list(self.p.arm_joints) + list(self.p.hand_joints)
        self.q_measured: dict[str, float] = {}
        self.closures = np.zeros(6)
        self.taking_over = False
        self.sequence = 0
        self.last_frame: TeleopFrame | None = None
        self._last_rx = 0.0
        #: (sender timestamp, wall time at publish) of the newest published command, for latency benches
        self.last_published: tuple[float, float] | None = None

    def on_configure(self) -> None:
        ik, fk = self._ik, self._fk
        if ik is None or fk is None:
            ik, fk = franka_kinematics()
        calib = (HandCalibration.load(self.p.calibration_file) if self.p.calibration_file
                 else HandCalibration.nominal())
        self.hand = HandRetargeter(calib, self.p.hand_min_cutoff, self.p.hand_beta)
        self.arm = ArmRetargeter(ik, fk, np.array(self.p.home_q),
                                 scale=self.p.scale, R_op_to_robot=np.array(self.p.tracker_to_robot).reshape(3, 3))
        self.server = UdpTeleopServer(self.p.host, self.p.port, self.p.token)
        self.chunk_pub = self.handle.create_publisher(ActionChunk, self.p.chunk_topic, COMMAND_QOS)
        self.intervention_pub = self.handle.create_publisher(Bool, "/teleop/intervention", LATCHED_QOS)
        self.subscribe(JointState, "/joint_states", self._on_joint_state, QoS("best_effort", 10))

    def on_activate(self) -> None:
        self.intervention_pub.publish(Bool(False))
        self.create_timer(1.0 / self.p.poll_rate_hz, self.poll)
        self.create_timer(1.0, self._diagnostics)

    def on_deactivate(self) -> None:
        self._set_takeover(False)  # the operator's commands stop: the policy may run again
        self.arm.engaged = False

    def on_shutdown(self) -> None:
        if self.server is not None:
            self.server.close()

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address

    def _on_joint_state(self, msg: JointState) -> None:
        wanted = self.p.arm_joints
        for n, q in zip(msg.name, msg.position):
            if n in wanted:  # only what _measured_arm reads: unknown names must not grow the dict
                self.q_measured[n] = float(q)

    def _measured_arm(self) -> np.ndarray | None:
        try:
            return np.array([self.q_measured[n] for n in self.p.arm_joints])
        except KeyError:
            return None

    def poll(self) -> int:
        """Drain the socket, retarget, publish.  Returns the number of packets used."""
        frames = self.server.poll()
        wall = time.monotonic()
        if not frames:
            if self.taking_over and wall - self._last_rx > self.p.stale_timeout_s:
                self.log.warning("teleop stream stale for %.2f s: releasing", wall - self._last_rx)
                self._set_takeover(False)
                self.arm.engaged = False
            return 0
        self._last_rx = wall
        for f in frames:
            self.closures = self.hand(f.keypoints, f.t)
        f = frames[-1]
        self.last_frame = f
        q_arm = self.arm(f.wrist_pos, f.wrist_quat, f.clutch, f.t,
                         None if self.arm.engaged else self._measured_arm())
        self._set_takeover(f.clutch)
        if f.clutch or self.p.publish_when_released:
            now = self.handle.now()
            action = np.concatenate([q_arm, self.closures])[None, :]
            self.chunk_pub.publish(chunk_from_array(action, self.names, self.p.command_hold_s, now, now,
                                                    engine_id="teleop", sequence=self.sequence))
            self.sequence += 1
            self.last_published = (f.t, time.time())
        return len(frames)

    def _set_takeover(self, on: bool) -> None:
        if on != self.taking_over:
            self.taking_over = on
            self.intervention_pub.publish(Bool(on))

    def health(self) -> list[Diagnostic]:
        s = self.server.stats
        level = Diagnostic.WARN if s.rejected_auth or s.malformed else Diagnostic.OK
        return [Diagnostic(level, "teleop", s.last_error or ("takeover" if self.taking_over else "idle"),
                           {"received": s.received, "accepted": s.accepted, "rejected_auth": s.rejected_auth,
                            "malformed": s.malformed, "reordered": s.reordered})]

    def _diagnostics(self) -> None:
        self.publish_diagnostics(self.health(), hardware_id=f"udp:{self.address[0]}:{self.address[1]}")
