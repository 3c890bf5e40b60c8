"""Crash safety and full disk: what was flushed survives SIGKILL; ENOSPC stops recording cleanly."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from being_h0_runtime.nodes.recorder import RecorderNode, RecorderParams
from being_h0_runtime.recording.bag import (
    WriterStopped,
    load_metadata,
    recover_episode,
    scan,
)
from being_h0_runtime.recording.synthetic import SyntheticRig
from being_h0_runtime.transport.inproc import InprocContext

REPO = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from being_h0_runtime.transport.inproc import InprocContext
    from being_h0_runtime.nodes.recorder import RecorderNode, RecorderParams
    from being_h0_runtime.recording.synthetic import SyntheticRig
    ctx = InprocContext(start_time=time.time())   # sim clock == wall clock, paced below
    SyntheticRig(ctx)
    rec = RecorderNode(ctx.create_node("recorder"),
                       RecorderParams(output_dir=Path(sys.argv[1]), flush_interval_s=0.25, min_free_bytes=0)).bring_up()
    rec.start("crash", "record until killed")
    print("started", flush=True)
    while True:
        ctx.run_for(0.02)
        print(f"alive {ctx.now():.6f}", flush=True)  # the child's own clock: what the loss is measured against
        lag = ctx.now() - time.time()
        if lag > 0:
            time.sleep(lag)
""")


def _rosbags_count(ep: Path, topic: str) -> int:
    from rosbags.rosbag2 import Reader

    with Reader(ep) as reader:
        return sum(c.msgcount for c in reader.connections if c.topic == topic)


def test_sigkill_mid_episode_loses_at_most_the_last_flush(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "started", proc.stderr.read()
        t0 = None
        for line in proc.stdout:  # 2 s of recording on the child's own clock (a loaded machine only slows it)
            t = float(line.split()[1])
            t0 = t if t0 is None else t0
            if t - t0 >= 2.0:
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # the last moment the child was alive, on the clock that stamped the recording
        t_kill = max([t, *(float(ln.split()[1]) for ln in proc.stdout.read().splitlines() if ln.startswith("alive"))])
    finally:
        if proc.poll() is None:
            proc.kill()
    (ep,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    res = scan(ep)  # mcap StreamReader: no footer needed
    assert not res.complete
    js = [r.log_time_ns * 1e-9 for r in res.messages if r.topic == "/joint_states"]
    assert len(js) > 40
    assert t_kill - js[-1] <= 1.0, f"lost {t_kill - js[-1]:.2f} s"
    # contiguous up to the end: no hole in the 50 Hz stream
    gaps = [b - a for a, b in zip(js, js[1:])]
    assert max(gaps) < 0.05
    assert load_metadata(ep).status == "recording"  # sidecar written at start says what it was

    # the finalised-file readers need a footer: recover rewrites the episode, then rosbags opens it
    meta = recover_episode(ep)
    assert meta.status == "recovered" and meta.message_counts["/joint_states"] == len(js)
    assert scan(ep).complete
    assert _rosbags_count(ep, "/joint_states") == len(js)


class LimitedFile:
    """A real file whose writes fail with ENOSPC after `limit` bytes (a full disk, injected)."""

    def __init__(self, path: Path, limit: int) -> None:
        self._f = open(path, "wb")
        self.limit = limit

    def write(self, data) -> int:
        room = self.limit - self._f.tell()
        if len(data) > room:
            self._f.write(bytes(data[: max(room, 0)]))  # a short write first, as a real disk does
            self._f.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)


def test_enospc_stops_recording_cleanly_and_keeps_data_readable(tmp_path: Path) -> None:
    ctx = InprocContext(start_time=10.0)
    SyntheticRig(ctx, w=64, h=48)
    rec = RecorderNode(ctx.create_node("recorder"),
                       RecorderParams(output_dir=tmp_path, min_free_bytes=0, compress_images=False,
                                      compression="none", flush_interval_s=0.1),
                       opener=lambda p: LimitedFile(p, 150_000)).bring_up()
    ep = rec.start("fill", "fill the disk")
    ctx.run_for(5.0)  # raw 64x48 images at 10 Hz: 150 kB fill in well under 5 s
    assert not rec.recording
    assert "disk full" in rec.last_message and "disk full" in rec.status_line()
    assert os.path.getsize(next(ep.glob("*.mcap"))) <= 150_000
    res = scan(ep)
    assert not res.error  # truncated back to a record boundary: nothing half-written
    js = [r for r in res.messages if r.topic == "/joint_states"]
    assert len(js) > 20
    meta = load_metadata(ep)
    assert meta.status == "truncated" and "disk full" in meta.stop_reason
    assert meta.message_counts["/joint_states"] >= len(js)
    # the next start still works once space is back (a fresh writer)
    rec._opener = None
    rec.start("fill", "after cleanup")
    assert rec.recording


def test_low_free_space_refuses_to_start(tmp_path: Path) -> None:
    ctx = InprocContext()
    rec = RecorderNode(ctx.create_node("recorder"),
                       RecorderParams(output_dir=tmp_path, min_free_bytes=1 << 62)).bring_up()
    with pytest.raises(WriterStopped, match="min_free_bytes"):
        rec.start("x")
    assert "not recording" in rec.status_line()
