"""Render what a Foxglove client receives from the live view into a PNG (docs/foxglove_view.png).

This is NOT a Foxglove screenshot: Foxglove is a desktop/web app that cannot run on a headless machine.  It is
the same data Foxglove would show with docs/foxglove_layout.json -- received over the Foxglove WebSocket
protocol by `being_h0_runtime.view.client`, decoded from the advertised ros2msg schemas -- drawn with
matplotlib: the camera frame, the arm's commanded vs measured joints, the current action chunk, the task state.

    python scripts/foxglove_snapshot.py --out docs/foxglove_view.png -- run --profile sim --expert --seed 1

starts `being-h0 <args> --view --view-port 0`, connects to the address it prints, records until the task
reaches a terminal state, and writes the PNG.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from being_h0_runtime.rig import ARM_JOINT_NAMES as ARM_JOINTS
from being_h0_runtime.view.client import FoxgloveClient

TOPICS = ["/camera/color/image_raw/compressed", "/joint_states", "/arm/command", "/action_chunk", "/task/status",
          "/estop"]
TERMINAL = {"succeeded", "failed", "timeout", "aborted"}


def collect(url: str, timeout_s: float) -> dict[str, list]:
    got: dict[str, list] = {t: [] for t in TOPICS}
    with FoxgloveClient(url) as client:
        client.wait_for_topics(TOPICS)
        for t in TOPICS:
            client.subscribe(t)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            try:
                m = client.next_message(timeout_s=1.0)
            except TimeoutError:
                continue
            got[m.topic].append(m)
            if m.topic == "/task/status" and m.message.state in TERMINAL:
                break
    return got


def render(got: dict[str, list], out: Path, title: str) -> None:
    import cv2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = min(ms[0].log_time_ns for ms in got.values() if ms) * 1e-9
    fig = plt.figure(figsize=(14, 8), dpi=100)
    grid = fig.add_gridspec(2, 3, width_ratios=[1.2, 1.4, 1.0])
    ax_img = fig.add_subplot(grid[0, 0])
    frames = got["/camera/color/image_raw/compressed"]
    if frames:
        # the frame halfway through the episode: the arm is in view and moving
        f = frames[len(frames) // 2]
        bgr = cv2.imdecode(np.frombuffer(bytes(f.message.data), np.uint8), cv2.IMREAD_COLOR)
        ax_img.imshow(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        ax_img.set_title(f"/camera/color/image_raw/compressed  t={f.log_time_ns * 1e-9 - t0:.1f} s\n"
                         f"{bgr.shape[1]}x{bgr.shape[0]}, {len(frames)} frames received", fontsize=9)
    ax_img.axis("off")

    def series(topic: str, joint: str) -> tuple[np.ndarray, np.ndarray]:
        t, q = [], []
        for m in got[topic]:
            names = list(m.message.name)
            if joint in names:
                t.append(m.log_time_ns * 1e-9 - t0)
                q.append(m.message.position[names.index(joint)])
        return np.array(t), np.array(q)

    ax_arm = fig.add_subplot(grid[:, 1])
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, c in zip(ARM_JOINTS, colours):
        tm, qm = series("/joint_states", j)
        tc, qc = series("/arm/command", j)
        ax_arm.plot(tm, qm, color=c, lw=1.4, label=f"{j}")
        ax_arm.plot(tc, qc, color=c, lw=1.0, ls="--")
    ax_arm.set_title("arm: commanded (dashed, /arm/command) vs measured (/joint_states)", fontsize=9)
    ax_arm.set_xlabel("receive time (s)")
    ax_arm.set_ylabel("rad")
    ax_arm.legend(fontsize=7, ncol=2, loc="best")
    ax_arm.grid(alpha=0.3)

    ax_chunk = fig.add_subplot(grid[0, 2])
    chunks = got["/action_chunk"]
    if chunks:
        c = chunks[len(chunks) // 2].message
        data = np.asarray(c.data, np.float32).reshape(c.steps, c.dims)
        names = list(c.names)
        for j, col in zip(ARM_JOINTS, colours):
            if j in names:
                ax_chunk.plot(np.arange(c.steps), data[:, names.index(j)], color=col, marker=".", lw=1)
        ax_chunk.set_title(f"/action_chunk #{c.sequence} ({c.steps} steps x {c.dims} dims, {c.engine_id})\n"
                           f"{len(chunks)} chunks received", fontsize=9)
        ax_chunk.set_xlabel("step")
        ax_chunk.grid(alpha=0.3)

    ax_task = fig.add_subplot(grid[1, 0])
    ax_task.axis("off")
    lines, last = [], None
    for m in got["/task/status"]:
        s = m.message
        if s.state != last:
            lines.append(f"{m.log_time_ns * 1e-9 - t0:6.1f} s  {s.state:<9} {s.message[:48]}")
            last = s.state
    estops = [f"{m.log_time_ns * 1e-9 - t0:6.1f} s  engaged={m.message.engaged} {m.message.source}"
              for m in got["/estop"]]
    ax_task.text(0, 1, "/task/status transitions\n" + "\n".join(lines[-10:]) + "\n\n/estop\n" +
                 ("\n".join(estops[-4:]) or "(none)"), va="top", family="monospace", fontsize=8)

    ax_counts = fig.add_subplot(grid[1, 2])
    ax_counts.axis("off")
    ax_counts.text(0, 1, "messages received per channel\n" + "\n".join(f"{len(v):6d}  {k}" for k, v in got.items()),
                   va="top", family="monospace", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    tmp = out.with_suffix(".tmp.png")
    fig.savefig(tmp)
    os.replace(tmp, out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("docs/foxglove_view.png"))
    ap.add_argument("--timeout", type=float, default=240.0)
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- then the being-h0 arguments")
    args = ap.parse_args(argv)
    cmd = [a for a in args.command if a != "--"] or ["run", "--profile", "sim", "--expert", "--seed", "1"]
    full = [sys.executable, "-m", "being_h0_runtime.cli", *cmd, "--view", "--view-port", "0"]
    proc = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        url = None
        for line in proc.stdout:
            print(line, end="", flush=True)
            found = re.search(r"(ws://[\d.]+:\d+)", line)
            if found:
                url = found.group(1)
                break
        if url is None:
            print("error: being-h0 printed no live view address", file=sys.stderr)
            return 1
        got = collect(url, args.timeout)
    finally:
        rest, _ = proc.communicate(timeout=120)
        print(rest, end="")
    title = (f"Data received by a Foxglove WebSocket client from `being-h0 {' '.join(cmd)} --view` (headless; rendered "
             f"with matplotlib, not a Foxglove screenshot)")
    render(got, args.out, title)
    print(f"wrote {args.out}: " + ", ".join(f"{k} {len(v)}" for k, v in got.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
