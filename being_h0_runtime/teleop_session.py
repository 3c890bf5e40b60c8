"""A teleop session on the virtual rig: a device drives the arm and the hand, optionally recorded.

The graph is the profile's (virtual rig, camera, arm, hand, task) in one
process, paced to the wall clock so a person can drive it, plus:

- the TeleopNode on a loopback UDP port with a fresh token: the device's
  frames are encoded as the teleop UDP packet and sent there, exactly as an
  external hand tracker would send them;
- with `policy=True` (DAgger, `being-h0 run --teleop DEVICE`) the inference
  node too: the policy drives until the operator closes the device's clutch;
  the takeover flag (/teleop/intervention) stops the policy, the arm and hand
  nodes cut its chunk, and the operator's commands run;
- with `record_dir` the recorder node: one episode per task episode, the
  operator's takeovers stored as intervention segments (episode.json) and
  exported per frame (`intervention` column).

Everything the device asks for reaches the robot through the arm and hand
nodes' executor and safety supervisor (joint, velocity and workspace limits).

An application (app layer, beside launch.py and operator.py, whose graph and
console it drives), not part of `teleop/`: that package keeps the devices, the
packet schema and the retargeting, which the nodes import.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .teleop.devices.base import TeleopDevice
from .teleop.schema import encode
from .teleop.scripted import UdpSender


@dataclass
class SessionResult:
    state: str
    success: bool
    message: str
    sim_seconds: float
    wall_seconds: float
    frames_sent: int
    episode_dir: Path | None = None
    interventions: list[list[float]] = field(default_factory=list)
    quit_by_operator: bool = False


def teleop_overrides(policy: bool) -> dict[str, dict[str, Any]]:
    """Executor settings for a teleop session: without a policy the newest operator command simply replaces
    the last (async); with a policy the profile's executor stays and a takeover cuts its chunk."""
    if policy:
        return {}
    return {"arm": {"executor": {"name": "async"}}, "hand": {"executor": {"name": "async"}}}


class TeleopSession:
    def __init__(self, device: TeleopDevice, profile: str = "sim", seed: int = 0, policy: bool = False,
                 overrides: dict[str, dict[str, Any]] | None = None, record_dir: Path | None = None,
                 realtime: bool = True, time_limit_s: float | None = None, episode: int = 1,
                 run_dir: Path | None = None, teleop_params: dict[str, Any] | None = None,
                 close_device: bool = True) -> None:
        from .launch import build_graph, load_profile
        from .nodes.teleop import TeleopNode, TeleopParams
        from .operator import OperatorConsole
        from .transport.inproc import InprocContext

        self.device = device
        self.close_device = close_device
        self.profile = load_profile(profile)
        self.seed, self.episode, self.realtime, self.policy = seed, episode, realtime, policy
        self._tmp = None
        if run_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="being_h0_teleop_")
            run_dir = Path(self._tmp.name)
        over: dict[str, dict[str, Any]] = teleop_overrides(policy)
        for node, params in (overrides or {}).items():
            over.setdefault(node, {}).update(params)
        if time_limit_s is not None:
            over.setdefault("task", {})["time_limit_s"] = time_limit_s
        only = [n for n, e in self.profile.nodes.items() if policy or e.type != "inference"]
        self.ctx = InprocContext()
        self.nodes = build_graph(self.profile, self.ctx, run_dir, over, only=only)
        self.token = secrets.token_hex(8)
        tp = {"port": 0, "token": self.token, **(teleop_params or {})}
        self.teleop = TeleopNode(self.ctx.create_node("teleop"), TeleopParams(**tp)).bring_up()
        self.sender = UdpSender(*self.teleop.address)
        self.recorder = None
        if record_dir is not None:
            from .nodes.recorder import RecorderNode, RecorderParams

            self.recorder = RecorderNode(self.ctx.create_node("recorder"), RecorderParams(
                output_dir=record_dir, operator=f"teleop:{device.name}", min_free_bytes=0)).bring_up()
        self.console = OperatorConsole(self.ctx.create_node("operator_console"), operator=f"teleop:{device.name}")
        self.frames_sent = 0
        self._last_frame = None
        self.estopped = False  # latched from this session's device (the console's own e-stop is the nodes')

    @property
    def period(self) -> float:
        return 1.0 / self.device.config.rate_hz  # type: ignore[attr-defined]

    def step(self) -> None:
        """One device frame out, then the graph runs for one device period (sim time)."""
        from .msgs import TaskStatus

        frame = self.device.read(self.ctx.now())
        self._apply_safety_requests()
        if frame is not None and (self.console.status.state != TaskStatus.RUNNING or self.estopped):
            # never engage while the task homes or is over, or while stopped: the clutch would anchor on an
            # arm that is moving or holding, and jump to the device's pose on reset
            frame.clutch = False
        if frame is not None:
            self.sender.send(encode(frame, self.token))
            self.frames_sent += 1
            self._last_frame = frame
        self.ctx.run_for(self.period)

    def _apply_safety_requests(self) -> None:
        """The device's e-stop key latches every motion node (as the console's does); its reset key clears it."""
        estop, reset = self.device.take_safety_requests()
        if estop:
            self.console.estop(f"teleop:{self.device.name} e-stop key")
            self.device.drop_clutch()  # after the reset the operator takes over again, from where the arm is
            self.estopped = True
        elif reset:  # also asks to clear a stop from elsewhere; a node refuses while a hardware stop is held
            self.console.reset_estop()
            self.estopped = False

    def release(self) -> None:
        """Tell the teleop node the operator let go (clutch open), rather than letting its stream go stale."""
        f = self._last_frame
        if f is not None and f.clutch:
            from dataclasses import replace

            self.sender.send(encode(replace(f, clutch=False, seq=f.seq + 1, t=self.ctx.now()), self.token))
            self.ctx.run_for(self.period)

    def run(self, max_seconds: float | None = None, on_tick: Callable[[TeleopSession], None] | None = None,
            status: Callable[[str], None] | None = None) -> SessionResult:
        """Start the task and run until it ends, the operator quits, or `max_seconds` of task time pass."""
        from .msgs import TaskStatus

        task = self.profile.task
        self.ctx.run_for(0.2)  # drivers connect, state flows
        self.console.start(task.task_id, task.instruction, self.episode, self.seed)
        sim0, wall0 = self.ctx.now(), time.monotonic()
        last_status = -1.0
        quit_by_operator = False
        while not self.console.finished(self.episode):
            if self.device.quit_requested or (max_seconds is not None and self.ctx.now() - sim0 >= max_seconds):
                quit_by_operator = self.device.quit_requested
                self.release()
                self.console.stop()
                self.ctx.run_until(lambda: self.console.finished(self.episode), 5.0)
                break
            self.step()
            if on_tick is not None:
                on_tick(self)
            if self.realtime:
                ahead = (self.ctx.now() - sim0) - (time.monotonic() - wall0)
                if ahead > 0:
                    time.sleep(ahead)
            if status is not None and time.monotonic() - last_status >= 0.5:
                last_status = time.monotonic()
                st = self.console.status
                take = "TAKEOVER" if self.teleop.taking_over else ("policy" if self.policy else "released")
                take = "E-STOP" if self.estopped else take
                status(f"{st.state:<9} {self.ctx.now() - sim0:6.1f} s  {take:<8}  {self.device.status()}")
        self.ctx.run_for(0.2)  # the recorder closes the episode on the terminal state
        st = self.console.status
        episode_dir = interventions = None
        if self.recorder is not None:
            episode_dir = self.recorder.last_episode_dir
            if episode_dir is not None:
                from .recording.bag import load_metadata

                interventions = load_metadata(episode_dir).interventions
        return SessionResult(st.state, st.state == TaskStatus.SUCCEEDED, st.message, self.ctx.now() - sim0,
                             time.monotonic() - wall0, self.frames_sent, episode_dir, interventions or [],
                             quit_by_operator)

    def close(self) -> None:
        from .launch import close_graph

        try:
            self.sender.close()
            self.teleop.close()
            if self.recorder is not None:
                self.recorder.close()
            close_graph(self.nodes)
        finally:
            if self.close_device:
                self.device.close()
            if self._tmp is not None:
                self._tmp.cleanup()

    def __enter__(self) -> TeleopSession:  # noqa: PYI034 - not subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
