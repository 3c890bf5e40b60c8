"""A motion-only graph for fault injection: the virtual rig, the arm node and the hand node, in process.

No task or inference node: a scripted "policy" publishes action chunks on a simulated
clock, so a stop can hold and resume (as an operator expects) instead of aborting an
episode, and every chunk's content says which observation it came from. Driver writes
of the arm and the hand are counted at the driver (a spy around the real driver's
write), and the target the executor produced each cycle is recorded at the supervisor.
"""

from __future__ import annotations

import os
import tempfile
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")

from being_h0_runtime.launch import build_graph, close_graph, load_profile  # noqa: E402
from being_h0_runtime.msgs import ActionChunk, EStop  # noqa: E402
from being_h0_runtime.msgs.convert import chunk_from_array, header  # noqa: E402
from being_h0_runtime.operator import OperatorConsole  # noqa: E402
from being_h0_runtime.rig import ARM_JOINT_NAMES, HAND_DOF_NAMES, READY_Q  # noqa: E402
from being_h0_runtime.transport.api import COMMAND_QOS, LATCHED_QOS  # noqa: E402
from being_h0_runtime.transport.inproc import InprocContext  # noqa: E402

NAMES = ARM_JOINT_NAMES + HAND_DOF_NAMES
ARM_DT = 0.01  # launch/sim.yaml: arm at 100 Hz
HAND_DT = 0.02  # hand at 50 Hz
STEP_DT = 0.1
STEPS = 16


def pose(epoch: int) -> np.ndarray:
    """The (constant) target every chunk of `epoch` carries: epochs are told apart by value."""
    arm = np.asarray(READY_Q) + 0.04 * epoch * np.array([1, -1, 1, 1, -1, 1, -1])
    hand = np.full(len(HAND_DOF_NAMES), 0.15 + 0.2 * epoch)
    return np.concatenate([arm, hand])


@dataclass
class Writes:
    times: list[float] = field(default_factory=list)
    #: (time, target the executor produced) per supervisor step
    targets: list[tuple[float, np.ndarray]] = field(default_factory=list)

    def between(self, t0: float, t1: float = float("inf")) -> list[float]:
        return [t for t in self.times if t0 < t < t1]

    def targets_between(self, t0: float, t1: float = float("inf")) -> list[tuple[float, np.ndarray]]:
        return [(t, a) for t, a in self.targets if t0 < t < t1]


class MotionGraph:
    """virtual_rig + arm + hand in one InprocContext, a console, and a chunk publisher."""

    def __init__(self, executor: str = "async", footswitch: bool = False, latency_s: float = 0.05,
                 chunk_period_s: float = 0.1, extra: dict[str, dict[str, Any]] | None = None) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="being_h0_motion_")
        self.master = self.slave = None
        over: dict[str, dict[str, Any]] = {
            "virtual_rig": {"camera_rate_hz": 0, "hand_baudrate": None},
            # no soft start: the executor's action is the supervisor's target, so the test can see its origin
            "arm": {"executor": {"name": executor}, "soft_start_s": 0.0},
            "hand": {"executor": {"name": executor}, "soft_start_s": 0.0},
        }
        if footswitch:
            self.master, self.slave = os.openpty()
            tty.setraw(self.slave)
            over["arm"]["footswitch"] = {"port": os.ttyname(self.slave), "protocol": "byte"}
        for node, params in (extra or {}).items():
            over.setdefault(node, {}).update(params)
        self.ctx = InprocContext()
        self.nodes = build_graph(load_profile("sim"), self.ctx, Path(self.tmp.name), over,
                                 only=["virtual_rig", "arm", "hand"])
        self.arm, self.hand = self.nodes["arm"], self.nodes["hand"]
        self.console = OperatorConsole(self.ctx.create_node("operator_console"), operator="alice")
        self.probe = self.ctx.create_node("probe")
        self.chunk_pub = self.probe.create_publisher(ActionChunk, "/action_chunk", COMMAND_QOS)
        self.estop_pub = self.probe.create_publisher(EStop, "/estop", LATCHED_QOS)
        self.writes = {"arm": Writes(), "hand": Writes()}
        for name in ("arm", "hand"):
            self._spy(name)
        self.latency_s = latency_s
        #: epoch of the chunks published now: an observation's epoch is fixed when it is "taken"
        self.epoch_at: Callable[[float], int] = lambda obs: 0
        self.published: list[tuple[float, float, int]] = []  # (publish time, obs stamp, epoch)
        self.chunks_on = True
        self.sequence = 0
        self.probe.create_timer(chunk_period_s, self._publish_chunk)

    def _spy(self, name: str) -> None:
        node, rec = self.nodes[name], self.writes[name]
        real_write, real_step = node.driver.write, node.supervisor.step

        def write(command: Any) -> None:
            rec.times.append(self.ctx.now())
            real_write(command)

        def step(target: np.ndarray, *a: Any, **k: Any) -> Any:
            rec.targets.append((self.ctx.now(), np.array(target, dtype=float)))
            return real_step(target, *a, **k)

        node.driver.write = write
        node.supervisor.step = step

    def _publish_chunk(self) -> None:
        if not self.chunks_on:
            return
        now = self.ctx.now()
        obs = max(now - self.latency_s, 0.0)
        epoch = self.epoch_at(obs)
        self.sequence += 1
        chunk = np.tile(pose(epoch), (STEPS, 1))
        self.chunk_pub.publish(chunk_from_array(chunk, NAMES, STEP_DT, now, obs, "scripted", self.sequence))
        self.published.append((now, obs, epoch))

    # -- stop sources ---------------------------------------------------------------
    def press_pedal(self) -> None:
        self._pedal(b"\x01", lambda: "footswitch" in self.arm.estop.asserted_sources)

    def release_pedal(self) -> None:
        self._pedal(b"\x00", lambda: "footswitch" not in self.arm.estop.asserted_sources)

    def _pedal(self, byte: bytes, done: Callable[[], bool]) -> None:
        assert self.master is not None, "MotionGraph(footswitch=True) wires a pedal"
        os.write(self.master, byte)
        deadline = time.monotonic() + 5.0  # the foot switch thread reads the pty in real time
        while not done():
            assert time.monotonic() < deadline, "the foot switch thread did not see the pedal"
            time.sleep(0.001)

    def topic_estop(self) -> None:
        self.estop_pub.publish(EStop(header=header(self.ctx.now()), engaged=True, source="test-bench", reason="topic"))

    def nan_chunk_for_hand(self) -> None:
        """A chunk whose hand columns hold NaN: the hand node latches a fault, the arm's columns are fine."""
        bad = np.tile(pose(0), (STEPS, 1)).astype(np.float32)
        bad[:, len(ARM_JOINT_NAMES) + 2] = np.nan
        now = self.ctx.now()
        self.chunk_pub.publish(chunk_from_array(bad, NAMES, STEP_DT, now, now, "fault-injector", 10_000))

    # -- running --------------------------------------------------------------------
    def at(self, t: float, action: Callable[[], None]) -> None:
        """Run `action` at simulated time t (the clock never moves while it runs)."""
        self.ctx.run_for(t - self.ctx.now())
        action()
        self.ctx.deliver_pending()

    def run_until(self, t: float) -> None:
        self.ctx.run_for(t - self.ctx.now())

    def close(self) -> None:
        try:
            close_graph(self.nodes)
        finally:
            for fd in (self.master, self.slave):
                if fd is not None:
                    os.close(fd)
            self.tmp.cleanup()
