"""Watching one benchmark trial from inside the graph: interventions, safety counters, milestones, frame strips."""

from __future__ import annotations

import os
import select
import sys
from pathlib import Path
from typing import Any

import numpy as np

#: task states that end a trial
TERMINAL = ("succeeded", "failed", "timeout", "aborted")


class TrialProbe:
    """Watches one trial from inside the graph (the `setup` hook of run_episode_inproc).

    Counts operator interventions (/teleop/intervention rising edges), snapshots
    the actuators' safety counters at the moment the task ends (the end of an
    episode itself causes a hold, which is not a safety event), follows the
    task's milestones (reached, grasped, lifted, dropped, ... see outcome.py),
    renders a few frames from the virtual rig (also at each milestone), and
    optionally adds a recorder node.
    """

    def __init__(self, frames: int = 3, frame_period_s: float = 4.0, record_dir: Path | None = None,
                 operator_keys: bool = False) -> None:
        self.n_frames = frames
        self.frame_period_s = frame_period_s
        self.record_dir = record_dir
        self.operator_keys = operator_keys
        self.interventions = 0
        self._intervening = False
        #: (seconds since running, milestone or "", half-resolution RGB)
        self.frames: list[tuple[float, str, np.ndarray]] = []
        self.tracker: Any = None
        self.progress_period_s = 0.25
        self.safety: dict[str, Any] = {}
        self.safety_events = 0
        self.terminal_at: float | None = None
        self.running_at: float | None = None
        self.marked_by_operator = False
        self.nodes: dict[str, Any] = {}
        self.recorder: Any = None

    # -- hooks -------------------------------------------------------------------
    def setup(self, ctx: Any, nodes: dict[str, Any]) -> None:
        from ..msgs import Bool, TaskCommand, TaskStatus
        from ..transport.api import COMMAND_QOS, LATCHED_QOS

        self.ctx, self.nodes = ctx, nodes
        self.handle = ctx.create_node("bench_probe")
        self.handle.create_subscription(Bool, "/teleop/intervention", self._on_intervention, LATCHED_QOS)
        self.handle.create_subscription(TaskStatus, "/task/status", self._on_status, LATCHED_QOS)
        if self.n_frames > 0 and "virtual_rig" in nodes:
            self.handle.create_timer(self.frame_period_s, self._grab_periodic)
        if "virtual_rig" in nodes:
            from .outcome import ProgressTracker

            self.tracker = ProgressTracker(nodes["virtual_rig"].rig)
            self.handle.create_timer(self.progress_period_s, self._track)
        if self.record_dir is not None:
            from ..nodes.base import build_node

            self.recorder = build_node("recorder", ctx.create_node("bench_recorder"),
                                       {"output_dir": str(self.record_dir)}, "bench run --record").bring_up()
            nodes["bench_recorder"] = self.recorder  # closed with the graph
        if self.operator_keys:
            self._cmd_pub = self.handle.create_publisher(TaskCommand, "/task/command", COMMAND_QOS)
            self.handle.create_timer(0.1, self._poll_keys)

    def _on_intervention(self, msg: Any) -> None:
        if msg.data and not self._intervening:
            self.interventions += 1
        self._intervening = bool(msg.data)

    def _on_status(self, st: Any) -> None:
        if st.state == "running" and self.running_at is None:
            self.running_at = self.ctx.now()
            self._grab("start")
        if st.state in TERMINAL and self.terminal_at is None and st.episode > 0:
            self.terminal_at = self.ctx.now()
            self._track()
            self._snapshot_safety()
            self._grab(st.state)

    def _track(self) -> None:
        if self.tracker is None or self.running_at is None or self.terminal_at not in (None, self.ctx.now()):
            return
        milestone = self.tracker.sample(self.ctx.now() - self.running_at)
        if milestone:
            self._grab(milestone)

    def _grab_periodic(self) -> None:
        if self.running_at is not None and self.terminal_at is None:
            self._grab()

    def _grab(self, label: str = "") -> None:
        rig_node = self.nodes.get("virtual_rig")
        if self.n_frames <= 0 or rig_node is None:
            return
        rgb, _ = rig_node.rig.render()
        t = self.ctx.now() - (self.running_at if self.running_at is not None else self.ctx.now())
        self.frames.append((t, label, np.ascontiguousarray(rgb[::2, ::2])))  # half resolution: a strip, not a video

    def _snapshot_safety(self) -> None:
        events = 0
        for group in ("arm", "hand"):
            node = self.nodes.get(group)
            if node is None or not hasattr(node, "gate"):
                continue
            faults = node.gate.faults
            holds = [(t, why) for t, why in node.hold_events
                     if self.running_at is not None and self.running_at < t <= (self.terminal_at or t)
                     and why.startswith(("e-stop", "fault", "watchdog", "supervisor"))]
            events += len(faults) + len(holds)
            self.safety[group] = {
                "holds_by_reason": dict(node.gate.holds_by_reason),
                "supervisor": {k: v for k, v in node.supervisor.counters.items() if k != "cycles"},
                "faults": faults,
                "safety_holds": [why for _, why in holds],
            }
        self.safety_events = events

    def _poll_keys(self) -> None:
        """Real rig: y<Enter> marks success, n<Enter> failure, a<Enter> (or q) stops: the console's keys, typed as
        lines because the reset and verdict prompts around a trial are line prompts (stdin, non-blocking)."""
        from ..console import ACTION_OF, ACTION_OF_WORD
        from ..msgs import TaskCommand

        try:
            ready, _, _ = select.select([sys.stdin], [], [], 0)
        except (OSError, ValueError):
            return
        if not ready:
            return
        word = sys.stdin.readline().strip().lower()
        action = ACTION_OF_WORD.get(word) or (ACTION_OF.get(word) if len(word) == 1 else None)
        cmd = {"success": TaskCommand.MARK_SUCCESS, "failure": TaskCommand.MARK_FAILURE, "abort": TaskCommand.STOP,
               "quit": TaskCommand.STOP}.get(action or "")
        if cmd:
            self.marked_by_operator = cmd != TaskCommand.STOP
            self._cmd_pub.publish(TaskCommand(command=cmd, operator="bench"))

    # -- after the episode ----------------------------------------------------------
    def frame_strip(self, max_frames: int | None = None, milestones: bool = False) -> np.ndarray | None:
        """Up to n frames side by side, each captioned with its time: first and last always, then (with
        `milestones`, for a failed trial) the milestone frames (grasp, drop, ...), then evenly spaced ones."""
        if not self.frames:
            return None
        n = min(max_frames or self.n_frames, len(self.frames))
        last = len(self.frames) - 1
        pick = {0, last}
        if milestones:
            marked = [i for i, (_, label, _) in enumerate(self.frames) if label and 0 < i < last]
            pick.update(marked[-max(0, n - 2):] if n > 2 else [])
        for i in np.round(np.linspace(0, last, n)).astype(int):
            if len(pick) >= n:
                break
            if all(abs(self.frames[i][0] - self.frames[j][0]) > 0.5 for j in pick):  # no near-duplicates
                pick.add(int(i))
        return np.concatenate([_caption(*self.frames[i]) for i in sorted(pick)], axis=1)


def _caption(t: float, label: str, img: np.ndarray) -> np.ndarray:
    """The frame with its time and milestone written on a dark band at the bottom."""
    from PIL import Image, ImageDraw

    band = 14
    out = Image.new("RGB", (img.shape[1], img.shape[0] + band), (24, 24, 24))
    out.paste(Image.fromarray(img), (0, 0))
    ImageDraw.Draw(out).text((3, img.shape[0] + 1), f"{t:5.1f} s {label}"[: img.shape[1] // 6], fill=(235, 235, 235))
    return np.asarray(out)


def save_png(img: np.ndarray, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    Image.fromarray(img).save(tmp)
    os.replace(tmp, path)
