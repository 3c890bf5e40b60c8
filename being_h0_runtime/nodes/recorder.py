"""RecorderNode: subscribes to the rig's topics and writes one rosbag2 MCAP episode per demo.

Operator controls (methods, and the same via /task/command):

=================  ============================  ==========================================
method             TaskCommand.command           effect
=================  ============================  ==========================================
start()            "start" / "record_start"      open a new episode (also on TaskStatus RUNNING)
end(keep=True)     "stop" / "record_stop"        finish and keep (also on a terminal TaskStatus)
discard(redo)      "record_discard"              delete the open episode; redo opens a fresh one
mark(success)      "mark_success"/"mark_failure" set the outcome (open episode, else the last one)
pause()/resume()   "record_pause"/"record_resume" stop/restart writing inside one episode
=================  ============================  ==========================================

Crash safety: the open chunk is flushed+fsynced every ``flush_interval_s`` of
*wall* time (checked on every message and on a timer), so a SIGKILL loses at
most that much.  Disk: below ``min_free_bytes`` free, or on any write error,
the episode is stopped cleanly (truncated at the last flush, sidecar says why).
"""

from __future__ import annotations

import datetime as _dt
import shutil
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..config import PathField
from ..drivers.base import Diagnostic
from ..msgs import (
    Bool,
    Image,
    Message,
    TaskCommand,
    TaskStatus,
)
from ..recording.bag import EpisodeWriter, FileOpener, WriterStopped, qos_yaml
from ..recording.compressed import CompressedImage, compress_image
from ..recording.episode import EpisodeMetadata, read_sidecar, write_sidecar
from ..recording.topics import DEFAULT_TOPIC_TYPES, DEFAULT_TOPICS, resolve_topic
from ..transport.api import (
    COMMAND_QOS,
    LATCHED_QOS,
    NodeHandle,
    QoS,
)
from .base import RuntimeNode


class RecorderParams(BaseModel):
    """Recorder configuration (validated; unknown keys are an error)."""

    model_config = ConfigDict(extra="forbid")

    #: relative: to the profile file's folder when it comes from a profile
    output_dir: PathField
    #: "/topic" (type from DEFAULT_TOPIC_TYPES) or "/topic:pkg/msg/Type"
    topics: list[str] = Field(default_factory=lambda: list(DEFAULT_TOPICS))
    compress_images: bool = True
    jpeg_quality: int = Field(90, ge=1, le=100)
    flush_interval_s: float = Field(0.5, gt=0.0, le=5.0)
    min_free_bytes: int = Field(512 << 20, ge=0)
    chunk_size: int = Field(4 << 20, ge=1024)
    compression: str = "zstd"
    rig_id: str = "virtual"
    calibration_id: str = ""
    operator: str = ""
    status_period_s: float = Field(1.0, gt=0.0)
    #: follow /task/status and /task/command (start on RUNNING, stop on terminal states)
    follow_task: bool = True
    #: number episodes from here instead of counting the folders already in output_dir
    #: (parallel recorders sharing one folder give each episode its own index)
    first_index: int | None = Field(None, ge=0)

    @field_validator("topics")
    @classmethod
    def _check_topics(cls, topics: list[str]) -> list[str]:
        for spec in topics:
            resolve_topic(spec)
        return topics


def _stamp_ns(msg: Message) -> int | None:
    header = getattr(msg, "header", None)
    if header is None:
        return None
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


class RecorderNode(RuntimeNode):
    """Records episodes; see the module docstring for the operator controls."""

    Params = RecorderParams  # for nodes.base.build_node / launch profiles

    def __init__(self, handle: NodeHandle, params: RecorderParams | dict[str, Any],
                 opener: FileOpener | None = None) -> None:
        """`opener` (path -> binary file) lets tests inject write faults such as ENOSPC."""
        super().__init__(handle, params)
        self.p = self.params
        self.writer: EpisodeWriter | None = None
        self.paused_since: float | None = None
        self.intervention_since: float | None = None
        self.episodes_kept = 0
        self.last_episode_dir: Path | None = None
        self.last_message = ""  # why the last episode stopped, if not by the operator
        self._last_flush_wall = time.monotonic()
        self._latched: dict[str, Message] = {}  # replayed into every new episode
        self._task = TaskStatus()
        self._pending_outcome: str | None = None
        self.topics: dict[str, tuple[type[Message], str]] = {}
        self._qos_yaml: dict[str, str] = {}
        self._opener = opener

    def on_configure(self) -> None:
        self.p.output_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.p.topics:
            topic, cls, qos = resolve_topic(spec)
            record_as, record_cls = topic, cls
            if cls is Image and self.p.compress_images:
                record_as, record_cls = topic + "/compressed", CompressedImage
            self.topics[topic] = (record_cls, record_as)
            rel = "best_effort" if qos.reliability == "best_effort" else "reliable"
            self._qos_yaml[record_as] = qos_yaml(rel, qos.durability)
            self.subscribe(cls, topic, lambda m, t=topic: self._on_message(t, m), qos)
        if "/teleop/intervention" not in self.topics:
            self.subscribe(Bool, "/teleop/intervention", self._on_intervention, LATCHED_QOS)
        if self.p.follow_task:
            if "/task/status" not in self.topics:
                self.subscribe(TaskStatus, "/task/status", self._on_task_status, LATCHED_QOS)
            if "/task/command" not in self.topics:
                self.subscribe(TaskCommand, "/task/command", self._on_task_command, COMMAND_QOS)

    def on_activate(self) -> None:
        self.create_timer(self.p.flush_interval_s, self._maybe_flush)
        self.create_timer(self.p.status_period_s, self._publish_status)

    def on_shutdown(self) -> None:
        """Keep the open episode (a clean Ctrl-C must not lose a demo)."""
        self.end(keep=True)

    # -- operator controls ---------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self.writer is not None

    @property
    def paused(self) -> bool:
        return self.paused_since is not None

    def start(self, task_id: str = "", instruction: str = "", operator: str = "", notes: str = "") -> Path:
        """Open a new episode folder; returns its path.  Ends (keeps) an open one first."""
        if self.writer is not None:
            self.end(keep=True)
        free = self.free_bytes()
        if free < self.p.min_free_bytes:
            self.last_message = (f"not recording: only {_fmt_bytes(free)} free in {self.p.output_dir} "
                                 f"(min_free_bytes={self.p.min_free_bytes})")
            self.log.error(self.last_message)
            raise WriterStopped(self.last_message)
        wall = _dt.datetime.now(_dt.timezone.utc)
        index = self._next_index()
        name = f"{task_id or 'episode'}_{wall.strftime('%Y%m%d-%H%M%S')}_{index:04d}"
        meta = EpisodeMetadata(
            episode_id=name, task_id=task_id or self._task.task_id,
            instruction=instruction or self._task.instruction, operator=operator or self.p.operator,
            rig_id=self.p.rig_id, calibration_id=self.p.calibration_id, notes=notes,
            start_time=self.handle.now(), wall_start=wall.isoformat())
        self.writer = EpisodeWriter(self.p.output_dir / name, meta, chunk_size=self.p.chunk_size,
                                    compression=self.p.compression,
                                    **({"opener": self._opener} if self._opener else {}))
        for topic, (cls, record_as) in self.topics.items():
            self.writer.add_topic(record_as, cls, self._qos_yaml[record_as])
        self.paused_since = None
        self._pending_outcome = None
        if self.intervention_since is not None:
            self.intervention_since = self.handle.now()
        now_ns = int(self.handle.now() * 1e9)
        for topic, msg in self._latched.items():
            self._write(topic, msg, now_ns)
        self.last_message = ""
        self.log.info("recording %s", name)
        return self.writer.dir

    def end(self, keep: bool = True) -> Path | None:
        """Finish the open episode; keep=False deletes it.  Returns the kept folder."""
        w, self.writer = self.writer, None
        if w is None:
            return None
        if not keep:
            w.abort()
            shutil.rmtree(w.dir, ignore_errors=True)
            self.log.info("discarded %s", w.dir.name)
            return None
        now = self.handle.now()
        self._close_intervals(w.meta, now)
        w.meta.end_time = now
        w.meta.wall_end = _dt.datetime.now(_dt.timezone.utc).isoformat()
        if self._pending_outcome:
            w.meta.outcome = self._pending_outcome  # type: ignore[assignment]
        meta = w.close()
        self.episodes_kept += 1
        self.last_episode_dir = w.dir
        self.log.info("kept %s (%s, %.1f s, %s)", w.dir.name, meta.outcome, meta.duration, meta.status)
        return w.dir

    def discard(self, redo: bool = True) -> Path | None:
        """Throw the open episode away; with redo, open a fresh one for the same task."""
        if self.writer is None:
            return None
        meta = self.writer.meta
        self.end(keep=False)
        return self.start(meta.task_id, meta.instruction, meta.operator) if redo else None

    def mark(self, success: bool | None, notes: str = "") -> None:
        """Outcome of the open episode, or (if none is open) rewrite the last kept one's sidecar."""
        outcome = "unknown" if success is None else "success" if success else "failure"
        if self.writer is not None:
            self._pending_outcome = outcome
            self.writer.meta.outcome = outcome  # type: ignore[assignment]
            if notes:
                self.writer.meta.notes = notes
        elif self.last_episode_dir is not None:
            meta = read_sidecar(self.last_episode_dir)
            meta.outcome = outcome  # type: ignore[assignment]
            if notes:
                meta.notes = notes
            write_sidecar(self.last_episode_dir, meta)

    def pause(self) -> None:
        if self.writer is not None and self.paused_since is None:
            self.paused_since = self.handle.now()

    def resume(self) -> None:
        if self.writer is not None and self.paused_since is not None:
            self.writer.meta.pauses.append([self.paused_since, self.handle.now()])
            self.paused_since = None

    # -- status ----------------------------------------------------------------------
    def free_bytes(self) -> int:
        return shutil.disk_usage(self.p.output_dir).free

    def status_line(self) -> str:
        """One line for a console: state, episode count, duration, messages, disk left."""
        free = _fmt_bytes(self.free_bytes())
        if self.writer is None:
            tail = f" | last: {self.last_message}" if self.last_message else ""
            return f"IDLE | kept {self.episodes_kept} | disk {free} free{tail}"
        w = self.writer
        dur = self.handle.now() - w.meta.start_time
        state = "PAUSED" if self.paused else "REC"
        flags = " | TAKEOVER" if self.intervention_since is not None else ""
        return (f"{state} {w.meta.episode_id} | ep {self.episodes_kept + 1} | {dur:6.1f} s | "
                f"{sum(w.message_counts().values())} msgs | outcome {w.meta.outcome} | disk {free} free{flags}")

    def health(self) -> list[Diagnostic]:
        level = Diagnostic.OK if not self.last_message else Diagnostic.ERROR
        return [Diagnostic(level, "recorder", self.status_line(),
                           {"episodes_kept": str(self.episodes_kept), "recording": str(self.recording).lower()})]

    def _publish_status(self) -> None:
        self.publish_diagnostics(self.health(), hardware_id="")

    # -- callbacks ---------------------------------------------------------------------
    def _on_message(self, topic: str, msg: Message) -> None:
        if topic == "/teleop/intervention":
            self._on_intervention(msg)  # type: ignore[arg-type]
        elif topic == "/task/status" and self.p.follow_task:
            self._on_task_status(msg)  # type: ignore[arg-type]
        elif topic == "/task/command" and self.p.follow_task:
            self._on_task_command(msg)  # type: ignore[arg-type]
        qos = DEFAULT_TOPIC_TYPES.get(topic, (None, QoS()))[1]
        if qos.durability == "transient_local" or topic.endswith("camera_info"):
            self._latched[topic] = msg
        if self.writer is None or self.paused:
            return
        self._write(topic, msg, int(self.handle.now() * 1e9))

    def _write(self, topic: str, msg: Message, now_ns: int) -> None:
        w = self.writer
        if w is None:
            return
        cls, record_as = self.topics.get(topic, (type(msg), topic))
        if cls is CompressedImage and isinstance(msg, Image):
            msg = compress_image(msg, self.p.jpeg_quality)
        try:
            w.write(record_as, msg, now_ns, _stamp_ns(msg))
        except WriterStopped as e:
            self._stopped(str(e))
            return
        if time.monotonic() - self._last_flush_wall >= self.p.flush_interval_s:
            self._maybe_flush()

    def _maybe_flush(self) -> None:
        self._last_flush_wall = time.monotonic()
        if self.writer is None:
            return
        try:
            self.writer.flush()
        except WriterStopped as e:
            self._stopped(str(e))
            return
        free = self.free_bytes()
        if free < self.p.min_free_bytes:
            self._stopped(f"disk almost full: {_fmt_bytes(free)} free < min_free_bytes "
                          f"{_fmt_bytes(self.p.min_free_bytes)} in {self.p.output_dir}")

    def _stopped(self, reason: str) -> None:
        """Stop recording cleanly after a write error or low disk; keep what is on disk."""
        w = self.writer
        if w is None:
            return
        self.last_message = f"recording stopped: {reason}"
        self.log.error(self.last_message)
        w.meta.status = "truncated"
        w.meta.stop_reason = reason
        self.end(keep=True)

    def _on_intervention(self, msg: Bool) -> None:
        now = self.handle.now()
        if msg.data and self.intervention_since is None:
            self.intervention_since = now
        elif not msg.data and self.intervention_since is not None:
            if self.writer is not None:
                self.writer.meta.interventions.append([max(self.intervention_since, self.writer.meta.start_time), now])
            self.intervention_since = None

    def _close_intervals(self, meta: EpisodeMetadata, now: float) -> None:
        if self.intervention_since is not None:
            meta.interventions.append([max(self.intervention_since, meta.start_time), now])
            self.intervention_since = now  # still in takeover: continues into the next episode
        if self.paused_since is not None:
            meta.pauses.append([self.paused_since, now])
            self.paused_since = None

    def _on_task_status(self, msg: TaskStatus) -> None:
        prev, self._task = self._task, msg
        if msg.state == TaskStatus.RUNNING and self.writer is None and prev.state != TaskStatus.RUNNING:
            self._safe_start(msg.task_id, msg.instruction)
        elif msg.state in TaskStatus.TERMINAL and self.writer is not None:
            outcome = {"succeeded": "success", "failed": "failure", "timeout": "failure", "aborted": "aborted"}
            if self._pending_outcome is None:
                self._pending_outcome = outcome[msg.state]
            if msg.message:
                self.writer.meta.notes = (self.writer.meta.notes + " " + msg.message).strip()
            self.end(keep=True)

    def _on_task_command(self, msg: TaskCommand) -> None:
        c = msg.command
        if c in (TaskCommand.START, "record_start") and self.writer is None:
            self._safe_start(msg.task_id, msg.instruction, msg.operator)
        elif c in (TaskCommand.STOP, "record_stop"):
            self.end(keep=True)
        elif c == "record_discard":
            self.discard(redo=True)
        elif c == TaskCommand.MARK_SUCCESS:
            self.mark(True)
        elif c == TaskCommand.MARK_FAILURE:
            self.mark(False)
        elif c == "record_pause":
            self.pause()
        elif c == "record_resume":
            self.resume()

    def _safe_start(self, task_id: str, instruction: str, operator: str = "") -> None:
        try:
            self.start(task_id, instruction, operator)
        except WriterStopped:
            pass

    def _next_index(self) -> int:
        """Monotonic per output dir, so a redo never reuses a discarded episode's name."""
        if not hasattr(self, "_index"):
            if self.p.first_index is not None:
                self._index = self.p.first_index
            else:
                self._index = sum(1 for p in self.p.output_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
        self._index += 1
        return self._index - 1

