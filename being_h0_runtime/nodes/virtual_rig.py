"""The virtual rig node: the MuJoCo world standing in for the physical rig.

It plays the part of the hardware, not of our nodes: it accepts arm commands
on a "wire" topic (as a Franka accepts them over FCI), serves the Inspire
serial protocol on a pseudo-terminal (so the hand node's real serial driver
runs), renders camera frames, publishes /clock (simulated time, as Gazebo
does) and privileged state (/sim/state) for scripted experts and the success
judge.  It resets the scene when a task starts.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from ..config import FilePath, StrictModel
from ..drivers.arm.sim import (
    SIM_ARM_COMMAND_TOPIC,
    SIM_ARM_EE_TOPIC,
    SIM_ARM_STATE_TOPIC,
)
from ..drivers.base import Diagnostic
from ..drivers.camera.sim import SIM_DEPTH_TOPIC, SIM_IMAGE_TOPIC, SIM_INFO_TOPIC
from ..msgs import (
    CameraInfo,
    Clock,
    Image,
    JointState,
    PoseStamped,
    SimState,
    TaskCommand,
)
from ..msgs.convert import camera_info, header, image_from_array, joint_state, pose
from ..rig import ARM_JOINT_NAMES
from ..transport.api import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS, NodeHandle, QoS
from .base import RuntimeNode


class VirtualRigParams(StrictModel):
    task: str = "pick_place_toy"
    variation: str = "seen"
    seed: int = 0
    step_period_s: float = Field(0.01, gt=0, le=0.1)
    camera_rate_hz: float = Field(10.0, ge=0)  # 0 disables rendering
    image_width: int = Field(320, ge=16)
    image_height: int = Field(240, ge=16)
    state_rate_hz: float = Field(20.0, gt=0)
    publish_clock: bool = True
    #: path of a symlink to the emulated Inspire hand's pty ("" = no serial emulator)
    hand_port_link: FilePath = ""
    hand_baudrate: int | None = 115200
    #: calibration folder whose hand_ranges.yaml gives the emulated hand's raw open/closed stops
    #: (so the driver, calibrated with the same file, maps closure 1:1 onto the simulated hand)
    hand_calibration_dir: FilePath = ""


class _ThreadSafeHand:
    """The emulator thread talks to the hand through this buffer; physics runs on the node thread."""

    def __init__(self, closure: np.ndarray) -> None:
        self._lock = threading.Lock()
        self._closure = closure.copy()
        self._force = np.zeros_like(closure)
        self._target: np.ndarray | None = None

    def forces(self) -> np.ndarray:
        with self._lock:
            return self._force.copy()

    def get(self) -> np.ndarray:
        with self._lock:
            return self._closure.copy()

    def set(self, target: np.ndarray) -> None:
        with self._lock:
            self._target = np.asarray(target, float).copy()

    def exchange(self, closure: np.ndarray, force: np.ndarray | None = None) -> np.ndarray | None:
        with self._lock:
            self._closure = closure.copy()
            if force is not None:
                self._force = force.copy()
            target, self._target = self._target, None
            return target


class VirtualRigNode(RuntimeNode):
    Params = VirtualRigParams

    def __init__(self, handle: NodeHandle, params: VirtualRigParams | dict[str, Any]) -> None:
        super().__init__(handle, params)
        self.p = self.params
        #: the seed of the episode whose scene is shown; -1 until the first START: the scene built at start-up
        #: belongs to no episode, so the task node waits for the reset even when the episode's seed is the same
        self.seed = -1
        self.rig: Any = None
        self.emulator: Any = None
        self.steps = 0
        self.sim_t0 = 0.0  # set on activation

    def on_configure(self) -> None:
        from ..sim.world import VirtualRig

        handle, params = self.handle, self.p
        self.rig = VirtualRig(task=params.task, variation=params.variation, seed=params.seed,
                              image_size=(params.image_width, params.image_height))
        self.substeps = max(1, int(round(params.step_period_s / self.rig.physics_dt)))
        self.hand = _ThreadSafeHand(self.rig.hand_closure())
        if params.hand_port_link:
            self._start_hand_emulator(params.hand_port_link, params.hand_baudrate)
        self.clock_pub = handle.create_publisher(Clock, "/clock", QoS("best_effort", 1))
        self.arm_pub = handle.create_publisher(JointState, SIM_ARM_STATE_TOPIC, QoS("best_effort", 2))
        self.ee_pub = handle.create_publisher(PoseStamped, SIM_ARM_EE_TOPIC, QoS("best_effort", 2))
        self.state_pub = handle.create_publisher(SimState, "/sim/state", QoS("best_effort", 2))
        self.image_pub = handle.create_publisher(Image, SIM_IMAGE_TOPIC, SENSOR_QOS)
        self.depth_pub = handle.create_publisher(Image, SIM_DEPTH_TOPIC, SENSOR_QOS)
        self.info_pub = handle.create_publisher(CameraInfo, SIM_INFO_TOPIC, LATCHED_QOS)
        self.subscribe(JointState, SIM_ARM_COMMAND_TOPIC, self.on_arm_command, COMMAND_QOS)
        self.subscribe(TaskCommand, "/task/command", self.on_task_command, COMMAND_QOS)
        self.state_every = max(1, int(round(1.0 / (params.state_rate_hz * params.step_period_s))))
        self.camera_every = (max(1, int(round(1.0 / (params.camera_rate_hz * params.step_period_s))))
                             if params.camera_rate_hz > 0 else 0)

    def on_activate(self) -> None:
        k = self.rig.camera_intrinsics()
        self.info_pub.publish(camera_info(int(k["width"]), int(k["height"]), k["fx"], k["fy"], k["cx"], k["cy"],
                                          frame_id="camera_color_optical_frame"))
        #: sim time of step 0: the physics' own time is sim_t0 + steps * step_period_s (see sim_now)
        self.sim_t0 = self.handle.now()
        self.create_timer(self.p.step_period_s, self.step)
        self.publish_state()

    def on_shutdown(self) -> None:
        if self.emulator is not None:
            self.emulator.stop()
            link = Path(self.p.hand_port_link)
            if link.is_symlink():
                link.unlink()
        if self.rig is not None:
            self.rig.close()

    def health(self) -> list[Diagnostic]:
        return [Diagnostic(Diagnostic.OK, "physics", f"{self.steps} steps, seed {self.seed}",
                           {"task": self.p.task, "sim_time": f"{self.rig.time:.3f}",
                            "hand_port": self.emulator.port if self.emulator is not None else ""})]

    def _start_hand_emulator(self, link: str, baudrate: int | None) -> None:
        from ..drivers.hand.emulator import InspireEmulator
        from ..drivers.hand.plants import ClosurePlant

        stops = {}
        if self.p.hand_calibration_dir:
            from ..calibration.schema import load_hand_ranges

            ranges = load_hand_ranges(self.p.hand_calibration_dir)
            stops = {"open_raw": np.array(ranges.open_raw, float), "closed_raw": np.array(ranges.closed_raw, float)}
        plant = ClosurePlant(self.hand.get, self.hand.set, get_forces=self.hand.forces, **stops)
        self.emulator = InspireEmulator(plant, baudrate=baudrate).start()
        link_path = Path(link)
        link_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = link_path.with_name(link_path.name + f".{os.getpid()}.tmp")
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(self.emulator.port, tmp)
        os.replace(tmp, link_path)  # atomic: the hand node never sees a half-made link
        self.log.info("Inspire emulator on %s (linked at %s)", self.emulator.port, link)

    # -- inputs -------------------------------------------------------------------
    def on_arm_command(self, msg: JointState) -> None:
        if len(msg.position) == 0:
            self.rig.set_arm_target(self.rig.arm_q())  # hold where it is now
        elif len(msg.position) == len(ARM_JOINT_NAMES) and np.all(np.isfinite(msg.position)):
            self.rig.set_arm_target(np.asarray(msg.position, dtype=float))

    def on_task_command(self, msg: TaskCommand) -> None:
        if msg.command == TaskCommand.START:
            self.seed = int(msg.seed)
            self.rig.reset(self.seed)
            self.hand.exchange(self.rig.hand_closure())
            self.log.info("scene reset for episode %d (seed %d)", msg.episode, self.seed)
            self.publish_state()

    # -- physics ------------------------------------------------------------------
    def step(self) -> None:
        target = self.hand.exchange(self.rig.hand_closure(), self.rig.hand_force())
        if target is not None:
            self.rig.set_hand_target(target)
        self.rig.step(self.substeps)
        self.steps += 1
        now = self.sim_now()
        if self.p.publish_clock:
            self.clock_pub.publish(Clock(clock=header(now).stamp))
        self.arm_pub.publish(joint_state(ARM_JOINT_NAMES, self.rig.arm_q(), self.rig.arm_dq(), self.rig.arm_tau(),
                                         stamp=now))
        if self.steps % self.state_every == 0:
            self.publish_state()
        if self.camera_every and self.steps % self.camera_every == 0:
            rgb, depth = self.rig.render()
            self.image_pub.publish(image_from_array(rgb, "rgb8", now, "camera_color_optical_frame"))
            self.depth_pub.publish(image_from_array(depth, "16UC1", now, "camera_color_optical_frame"))

    def sim_now(self) -> float:
        """The physics' time, which /clock and every stamp of the rig carry.

        The stepping timer runs on the wall clock; when a busy machine makes it miss steps, this time
        falls behind the wall clock together with the physics. Publishing the wall clock instead let the
        world lag the clock every node reads: controllers and the policy then ran their plans against a
        world that had moved less than their time said (under two CPU burners: the hand closed on
        schedule while the arm had not reached the toy yet). In lockstep (inproc) both are the same.
        """
        return self.sim_t0 + self.steps * self.p.step_period_s

    def publish_state(self) -> None:
        now = self.sim_now()
        pos, quat = self.rig.ee_pose()
        self.ee_pub.publish(PoseStamped(header=header(now, "fr3_link0"), pose=pose(pos, quat)))
        objects = self.rig.object_poses()
        self.state_pub.publish(SimState(header=header(now, "world"), names=list(objects),
                                        poses=[pose(p, q) for p, q in objects.values()],
                                        success=bool(self.rig.success()), task_id=self.p.task, seed=self.seed))
