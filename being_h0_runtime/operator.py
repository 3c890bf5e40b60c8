"""The operator's side of the graph: start a task, follow it, e-stop it.

`OperatorConsole` is a tiny node (used by the CLI, tests and benchmarks) that
publishes TaskCommand / EStop and collects TaskStatus.  `run_episode_inproc`
runs one whole episode deterministically in one process.
"""

from __future__ import annotations

import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .msgs import EStop, TaskCommand, TaskStatus
from .msgs.convert import header
from .transport.api import COMMAND_QOS, ESTOP_QOS, LATCHED_QOS, NodeHandle


@dataclass
class EpisodeOutcome:
    state: str
    success: bool
    message: str
    sim_seconds: float
    wall_seconds: float
    episode: int
    seed: int
    history: list[tuple[float, str]] = field(default_factory=list)


class OperatorConsole:
    def __init__(self, handle: NodeHandle, operator: str = "operator") -> None:
        self.handle = handle
        self.operator = operator
        self.status = TaskStatus()
        self.history: deque[tuple[float, str]] = deque(maxlen=1000)  # a console may stay up for days
        self.listeners: list[Callable[[TaskStatus], None]] = []
        self.cmd_pub = handle.create_publisher(TaskCommand, "/task/command", COMMAND_QOS)
        self.estop_pub = handle.create_publisher(EStop, "/estop", ESTOP_QOS)
        handle.create_subscription(TaskStatus, "/task/status", self._on_status, LATCHED_QOS)

    def _on_status(self, msg: TaskStatus) -> None:
        if msg.state != self.status.state or msg.episode != self.status.episode:
            self.history.append((self.handle.now(), msg.state))
        self.status = msg
        for fn in self.listeners:
            fn(msg)

    def start(self, task_id: str, instruction: str, episode: int, seed: int) -> None:
        self.handle.logger.info("starting episode %d of %s (seed %d): %r", episode, task_id, seed, instruction)
        self.cmd_pub.publish(TaskCommand(header=header(self.handle.now()), command=TaskCommand.START, task_id=task_id,
                                         instruction=instruction, episode=episode, seed=seed, operator=self.operator))

    def stop(self) -> None:
        self.cmd_pub.publish(TaskCommand(header=header(self.handle.now()), command=TaskCommand.STOP,
                                         operator=self.operator))

    def mark(self, success: bool) -> None:
        """The operator's judgement of the running episode (the real rig's success signal)."""
        cmd = TaskCommand.MARK_SUCCESS if success else TaskCommand.MARK_FAILURE
        self.cmd_pub.publish(TaskCommand(header=header(self.handle.now()), command=cmd, operator=self.operator))

    def estop(self, reason: str = "operator key") -> None:
        self.estop_pub.publish(EStop(header=header(self.handle.now()), engaged=True, source=f"console:{self.operator}",
                                     reason=reason))

    def reset_estop(self) -> None:
        self.estop_pub.publish(EStop(header=header(self.handle.now()), engaged=False, source=f"console:{self.operator}",
                                     reason="operator reset", operator=self.operator))

    def finished(self, episode: int) -> bool:
        return self.status.episode == episode and self.status.state in TaskStatus.TERMINAL


def run_episode_inproc(profile_name: str = "sim", seed: int = 0, episode: int = 1,
                       overrides: dict[str, dict[str, Any]] | None = None, time_limit_s: float | None = None,
                       run_dir: Path | None = None, on_status: Callable[[TaskStatus], None] | None = None,
                       setup: Callable[[Any, dict], None] | None = None, task_id: str | None = None,
                       instruction: str | None = None) -> EpisodeOutcome:
    """One episode of the profile's task, all nodes in one deterministic executor."""
    from .launch import build_graph, close_graph, load_profile
    from .transport.inproc import InprocContext

    profile = load_profile(profile_name)
    ctx = InprocContext()
    own_tmp = None
    if run_dir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="being_h0_run_")
        run_dir = Path(own_tmp.name)
    overrides = {k: dict(v) for k, v in (overrides or {}).items()}
    task_over = overrides.setdefault("task", {})
    if time_limit_s is not None:
        task_over["time_limit_s"] = time_limit_s
    nodes = build_graph(profile, ctx, run_dir, overrides)
    console = OperatorConsole(ctx.create_node("operator_console"))
    if on_status:
        console.listeners.append(on_status)
    if setup:
        setup(ctx, nodes)
    wall0 = time.perf_counter()
    try:
        ctx.run_for(0.2)  # let drivers connect and state flow before starting
        t0 = ctx.now()
        console.start(task_id or profile.task.task_id, instruction or profile.task.instruction, episode, seed)
        limit = nodes["task"].params.time_limit_s + nodes["task"].params.homing_time_limit_s + 5.0  # type: ignore[attr-defined]
        ctx.run_until(lambda: console.finished(episode), limit)
        st = console.status
        return EpisodeOutcome(state=st.state, success=st.state == TaskStatus.SUCCEEDED, message=st.message,
                              sim_seconds=ctx.now() - t0, wall_seconds=time.perf_counter() - wall0, episode=episode,
                              seed=seed, history=list(console.history))
    finally:
        close_graph(nodes)
        if own_tmp is not None:
            own_tmp.cleanup()
