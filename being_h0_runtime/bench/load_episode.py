"""One closed-loop episode for `being-h0 bench load`, over DDS (the `make run` graph) or in-process.

Over DDS every node is its own process (GraphLauncher, loopback only, a fresh
domain and graph id), this process plays the operator console, and the
episode starts only once every node is built (ready marks), exactly as
`being-h0 run` does. In-process, the graph runs in lockstep with simulated
time: CPU load changes its wall time only, which makes it the control.

An `EpisodeProbe` listens to /task/status and /action_chunk in either graph:
when the episode started running, when the first chunk was published after
that (sim time: what a slow engine or a starved process costs the task), and
each chunk's inference delay (publish stamp - observation stamp).
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..msgs import ActionChunk, TaskStatus
from ..transport.api import COMMAND_QOS, LATCHED_QOS


@dataclass
class EpisodeResult:
    state: str
    success: bool
    #: task time as `being-h0 run` prints it (since the start command, homing included), sim seconds
    task_s: float
    wall_s: float
    #: sim seconds from the episode's RUNNING to the first chunk published after it; nan: none came
    first_chunk_s: float
    chunks: int
    delay_p50_ms: float
    delay_max_ms: float
    error: str = ""


@dataclass
class EpisodeProbe:
    running_at: float | None = None
    first_chunk_at: float | None = None
    delays: list[float] = field(default_factory=list)
    last: TaskStatus = field(default_factory=TaskStatus)

    def attach(self, handle: Any) -> None:
        handle.create_subscription(TaskStatus, "/task/status", self._on_status, LATCHED_QOS)
        handle.create_subscription(ActionChunk, "/action_chunk", self._on_chunk, COMMAND_QOS)

    def _on_status(self, msg: TaskStatus) -> None:
        if msg.state == TaskStatus.RUNNING and self.running_at is None:
            self.running_at = msg.header.stamp.to_sec()
        self.last = msg

    def _on_chunk(self, msg: ActionChunk) -> None:
        stamp = msg.header.stamp.to_sec()
        if self.running_at is None or stamp < self.running_at:
            return
        if self.first_chunk_at is None:
            self.first_chunk_at = stamp
        self.delays.append(stamp - msg.source_stamp.to_sec())

    def result(self, wall_s: float, error: str = "", final: TaskStatus | None = None) -> EpisodeResult:
        """The episode's figures; `final` is the status that ended the wait (the console's), when it has one.

        Why `final`: over DDS the console and this probe read /task/status through two readers, and the
        console's can deliver the terminal status a spin before this one's. Judged on the probe's own last
        message such an episode read "running" and counted as a failure, whatever its outcome (measured:
        7 of 13 failures in one `bench load` run, several of them successes at 8-17 s of task time).
        """
        d = np.asarray(self.delays) * 1e3
        first = (self.first_chunk_at - self.running_at) if self.first_chunk_at is not None and \
            self.running_at is not None else math.nan
        st = final if final is not None and final.state in TaskStatus.TERMINAL else self.last
        state = "error" if error and st.state not in TaskStatus.TERMINAL else st.state
        return EpisodeResult(state=state, success=st.state == TaskStatus.SUCCEEDED, task_s=float(st.elapsed), wall_s=wall_s,
                             first_chunk_s=float(first), chunks=len(self.delays),
                             delay_p50_ms=float(np.median(d)) if d.size else math.nan,
                             delay_max_ms=float(d.max()) if d.size else math.nan, error=error)


def run_inproc(profile_name: str, seed: int, overrides: dict[str, dict[str, Any]]) -> EpisodeResult:
    """The episode in one deterministic process (lockstep sim time)."""
    from ..operator import run_episode_inproc

    probe = EpisodeProbe()
    t0 = time.monotonic()
    run_episode_inproc(profile_name, seed=seed, overrides=overrides,
                       setup=lambda ctx, nodes: probe.attach(ctx.create_node("load_probe")))
    return probe.result(time.monotonic() - t0)


def run_dds(profile_name: str, seed: int, overrides: dict[str, dict[str, Any]],
            startup_timeout_s: float = 120.0, wall_limit_s: float = 300.0) -> EpisodeResult:
    """The episode with one process per node over DDS on loopback, as `being-h0 run` runs it."""
    from ..launch import load_profile
    from ..launcher import GraphLauncher
    from ..operator import OperatorConsole

    profile = load_profile(profile_name)
    probe = EpisodeProbe()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="being_h0_load_") as tmp:
        launcher = GraphLauncher(profile, Path(tmp), overrides=overrides, log_level="WARNING")
        ctx = None
        try:
            launcher.start()
            ctx = launcher.context(use_sim_time=profile.use_sim_time)
            handle = ctx.create_node("load_console")
            console = OperatorConsole(handle)
            probe.attach(handle)
            error = _wait_until_up(launcher, console, ctx, startup_timeout_s)
            if not error:
                console.start(profile.task.task_id, profile.task.instruction, 1, seed)
                error = _wait_until_finished(launcher, console, ctx, wall_limit_s)
            if error:
                console.stop()  # the actuators hold before the graph goes down
                ctx.spin_once(0.2)
            return probe.result(time.monotonic() - t0, error, final=console.status)
        finally:
            if ctx is not None:
                ctx.shutdown()
            launcher.shutdown()


def _wait_until_up(launcher: Any, console: Any, ctx: Any, timeout_s: float) -> str:
    """"" once the task node's status is latched and every node process is built, else why not."""
    from ..console import graph_up

    deadline = time.monotonic() + timeout_s
    while not (graph_up(console) and launcher.all_ready()):
        ctx.spin_once(0.1)
        if launcher.dead():
            return f"node died during start-up: {launcher.dead()}"
        if time.monotonic() > deadline:
            return f"graph not up within {timeout_s:g} s"
    for _ in range(10):  # as `run`: let every subscription match before the start command
        ctx.spin_once(0.05)
    return ""


def _wait_until_finished(launcher: Any, console: Any, ctx: Any, wall_limit_s: float) -> str:
    deadline = time.monotonic() + wall_limit_s
    while not console.finished(1):
        ctx.spin_once(0.05)
        if launcher.dead():
            return f"node died: {launcher.dead()}"
        if time.monotonic() > deadline:
            return f"episode not finished within {wall_limit_s:g} s wall"
    return ""
