"""Optional stage tracing for the camera -> action latency benchmark (`being-h0 bench e2e`).

Off unless ``BEING_H0_TRACE_DIR`` names a directory (or :func:`install` is
called): then, *before any node is built*, the node classes' methods are
wrapped (nothing in the node files changes) and each process appends one JSON
line per event to ``<dir>/trace-<pid>.jsonl``. Times are ``time.monotonic()``
(CLOCK_MONOTONIC: one clock for every process on the machine), so events from
the virtual rig, camera, inference, arm and hand processes line up.

A camera frame is followed by its stamp (the sim time of the render), a chunk
by its sequence number:

    capture / rendered   virtual rig: render start / end of frame <stamp> (its header stamp)
    cam_rx / cam_pub     camera node: frame received from the rig / republished
    inf_rx               inference node: frame received
    infer                inference tick that used frame <stamp> -> chunk <seq>,
                         with observation, pre-processing and model times
    chunk_rx             arm or hand node: chunk <seq> received
    applied              arm or hand node: first command written after chunk <seq>
                         arrived (cycle start, executor, supervisor, driver write times)

Wrapping is idempotent; the overhead is a ``monotonic()`` call and a dict per
event, buffered and written every 200 events and at exit.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TRACE_ENV = "BEING_H0_TRACE_DIR"

_lock = threading.Lock()
_buffer: list[str] = []
_path: Path | None = None
_installed = False
_originals: list[tuple[Any, str, Any]] = []  # (class or module, attribute, original) to undo install()


def enabled() -> bool:
    return _path is not None


def emit(event: str, **fields: Any) -> None:
    """Record one event (no-op when tracing is off)."""
    if _path is None:
        return
    fields["ev"] = event
    fields.setdefault("t", time.monotonic())
    line = json.dumps(fields)
    with _lock:
        _buffer.append(line)
        if len(_buffer) >= 200:
            _flush_locked()


def flush() -> None:
    with _lock:
        _flush_locked()


def _flush_locked() -> None:
    if _path is None or not _buffer:
        return
    with open(_path, "a", encoding="utf-8") as f:
        f.write("\n".join(_buffer) + "\n")
    _buffer.clear()


def install_from_env() -> bool:
    """Install when ``BEING_H0_TRACE_DIR`` is set (node processes call this before building their node)."""
    d = os.environ.get(TRACE_ENV)
    if not d:
        return False
    install(Path(d))
    return True


def install(directory: Path) -> None:
    """Start writing events under ``directory`` and wrap the node classes (call before building nodes)."""
    global _path, _installed
    directory.mkdir(parents=True, exist_ok=True)
    _path = directory / f"trace-{os.getpid()}.jsonl"
    if _installed:
        return
    _installed = True
    atexit.register(flush)
    _wrap_virtual_rig()
    _wrap_camera()
    _wrap_inference()
    _wrap_actuators()


def uninstall() -> None:
    """Flush, stop recording and put every wrapped method back (in-process benches and tests)."""
    global _path, _installed
    flush()
    _path = None
    while _originals:
        owner, name, original = _originals.pop()
        setattr(owner, name, original)
    _installed = False


def _replace(owner: Any, name: str, new: Any) -> None:
    _originals.append((owner, name, getattr(owner, name)))
    setattr(owner, name, new)


def _wrap(cls: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = getattr(cls, name)
    wrapped = make(original)
    functools.update_wrapper(wrapped, original)
    _replace(cls, name, wrapped)


# --------------------------------------------------------------------------- per node type
def _wrap_virtual_rig() -> None:
    from ..nodes import virtual_rig as rig_node_module
    from ..sim.world import VirtualRig

    last: dict[str, float] = {}

    def render(orig):
        def inner(self, *a, **k):
            last["start"] = time.monotonic()
            out = orig(self, *a, **k)
            last["end"] = time.monotonic()
            return out
        return inner

    to_image = rig_node_module.image_from_array

    def traced_image_from_array(array, encoding, stamp, *a, **k):
        msg = to_image(array, encoding, stamp, *a, **k)
        if encoding == "rgb8" and "start" in last:  # the colour frame of the render that just finished
            stamp_s = msg.header.stamp.to_sec()
            emit("capture", stamp=stamp_s, t=last["start"])
            emit("rendered", stamp=stamp_s, t=last["end"])
            last.clear()
        return msg

    _wrap(VirtualRig, "render", render)
    _replace(rig_node_module, "image_from_array", traced_image_from_array)


def _wrap_camera() -> None:
    from ..drivers.camera.sim import SimCamera
    from ..nodes.camera import CameraNode

    def on_image(orig):
        def inner(self, msg, *a, **k):
            emit("cam_rx", stamp=msg.header.stamp.to_sec())
            return orig(self, msg, *a, **k)
        return inner

    def tick(orig):
        def inner(self, *a, **k):
            before = self.frames
            out = orig(self, *a, **k)
            if self.frames != before:
                emit("cam_pub", stamp=getattr(self.driver, "_last_stamp", None))
            return out
        return inner

    _wrap(SimCamera, "_on_image", on_image)
    _wrap(CameraNode, "tick", tick)


def _wrap_inference() -> None:
    from ..nodes.inference import InferenceNode

    def on_image(orig):
        def inner(self, msg, *a, **k):
            emit("inf_rx", stamp=msg.header.stamp.to_sec())
            return orig(self, msg, *a, **k)
        return inner

    def observation(orig):
        def inner(self, *a, **k):
            t0 = time.monotonic()
            out = orig(self, *a, **k)
            self._trace_obs = (t0, time.monotonic() - t0)
            return out
        return inner

    def tick(orig):
        def inner(self, *a, **k):
            seq = self.sequence
            self._trace_obs = None
            out = orig(self, *a, **k)
            if self.sequence != seq and self._trace_obs is not None:
                t0, obs_s = self._trace_obs
                timings = getattr(self.policy, "last_timings", {}) or {}
                emit("infer", stamp=self.image_stamp if self.image is not None else None, seq=self.sequence,
                     t0=t0, obs_s=obs_s, pre_s=timings.get("preprocess_s"), model_s=timings.get("model_s"))
            return out
        return inner

    _wrap(InferenceNode, "on_image", on_image)
    _wrap(InferenceNode, "observation", observation)
    _wrap(InferenceNode, "tick", tick)


def _cycle_stopwatches(cycle: dict[str, Any]) -> tuple[Any, Any]:
    """Wrappers timing the supervisor step and the driver write of the control cycle now running."""
    def sup_step(orig):
        def inner(self, *a, **k):
            t0 = time.monotonic()
            out = orig(self, *a, **k)
            cycle["sup_s"] = time.monotonic() - t0
            return out
        return inner

    def write_command(orig):
        def inner(self, *a, **k):
            cycle["write_start"] = time.monotonic()
            out = orig(self, *a, **k)
            cycle["write_end"] = time.monotonic()
            return out
        return inner

    return sup_step, write_command


def _timed_executors(make_executor: Any, cycle: dict[str, Any]) -> Any:
    """`make_executor` whose executors time `action_at` (the running cycle's lookup in the stored chunk)."""
    def traced_make_executor(*a, **k):
        ex = make_executor(*a, **k)
        action_at = ex.action_at

        def timed(now):
            t0 = cycle["action_start"] = time.monotonic()
            out = action_at(now)
            cycle["action_s"] = time.monotonic() - t0
            return out

        ex.action_at = timed
        return ex

    return traced_make_executor


def _wrap_actuators() -> None:
    from ..nodes import actuator as actuator_module
    from ..nodes.actuator import ActuatorNode
    from ..nodes.arm import ArmNode
    from ..nodes.hand import HandNode
    from ..safety.supervisor import Supervisor

    cycle: dict[str, Any] = {}  # the control cycle running on this thread (nodes in one process run in turn)

    def on_chunk(orig):
        def inner(self, msg, *a, **k):
            before = self.chunks_received
            out = orig(self, msg, *a, **k)
            if self.chunks_received != before:
                emit("chunk_rx", group=self.group, seq=msg.sequence)
                self.__dict__.setdefault("_trace_pending", []).append(msg.sequence)
            return out
        return inner

    def control_cycle(orig):
        def inner(self, *a, **k):
            cycle.clear()
            cycle["t0"] = time.monotonic()
            out = orig(self, *a, **k)
            pending = self.__dict__.get("_trace_pending")
            if pending and "write_end" in cycle:
                for seq in pending:
                    emit("applied", group=self.group, seq=seq, t0=cycle["t0"], action_start=cycle.get("action_start"),
                         action_s=cycle.get("action_s"),
                         sup_s=cycle.get("sup_s"), write_s=cycle["write_end"] - cycle["write_start"],
                         t=cycle["write_end"])
                pending.clear()
            cycle.clear()
            return out
        return inner

    sup_step, write_command = _cycle_stopwatches(cycle)
    _replace(actuator_module, "make_executor", _timed_executors(actuator_module.make_executor, cycle))
    _wrap(ActuatorNode, "on_chunk", on_chunk)
    _wrap(ActuatorNode, "control_cycle", control_cycle)
    _wrap(Supervisor, "step", sup_step)
    _wrap(ArmNode, "write_command", write_command)
    _wrap(HandNode, "write_command", write_command)


def read_events(directory: Path) -> list[dict[str, Any]]:
    """Every event written under ``directory`` (all processes), in time order."""
    events: list[dict[str, Any]] = []
    for f in sorted(Path(directory).glob("trace-*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a process killed mid-write leaves at most one torn line
    events.sort(key=lambda e: e["t"])
    return events
