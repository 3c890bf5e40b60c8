"""`being-h0 record --teleop keyboard` in a real terminal (a pty): keys in, a recorded human demo out."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from being_h0_runtime.cli import main

REPO = Path(__file__).resolve().parents[1]


def _cli_in_terminal(argv: list[str], on_output, timeout_s: float = 120.0) -> tuple[int, str]:
    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(REPO), MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
    proc = subprocess.Popen([sys.executable, "-m", "being_h0_runtime.cli", *argv], stdin=slave, stdout=slave,
                            stderr=slave, cwd=REPO, env=env, close_fds=True)
    os.close(slave)
    out = b""
    end = time.monotonic() + timeout_s
    try:
        while proc.poll() is None and time.monotonic() < end:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    break
                keys = on_output(out.decode(errors="ignore"))
                if keys:
                    os.write(master, keys)
        try:
            proc.wait(timeout=max(end - time.monotonic(), 1.0))
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(f"timed out; output:\n{out.decode(errors='ignore')[-3000:]}")
        while select.select([master], [], [], 0.1)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
    return proc.wait(), out.decode(errors="ignore")


def test_record_teleop_keyboard_in_a_terminal(tmp_path: Path) -> None:
    sent = {"clutch": False, "quit": False}

    def operator(text: str) -> bytes:
        # the status line shows the task running: take over, move down and close the hand; later quit
        if not sent["clutch"] and "running" in text:
            sent["clutch"] = True
            return b" ffffggg"
        if sent["clutch"] and not sent["quit"] and "hand 0.75" in text and text.count("running") > 4:
            sent["quit"] = True
            return b"q"
        return b""

    out = tmp_path / "demos"
    rc, text = _cli_in_terminal(["record", "--teleop", "keyboard", "--episodes", "1", "--out", str(out),
                                 "--keep-failures", "--max-seconds", "20"], operator)
    assert sent["quit"], text[-2000:]
    assert rc == 0, text[-2000:]
    assert "space      clutch" in text  # the key help is shown
    assert "kept 1 of 1 episodes" in text
    from being_h0_runtime.recording.bag import load_metadata

    (ep,) = [p for p in out.iterdir() if p.is_dir()]
    meta = load_metadata(ep)
    assert meta.operator == "teleop:keyboard"
    assert len(meta.interventions) == 1
    from being_h0_runtime.recording.export import export_dataset, load_dataset

    export_dataset([ep], tmp_path / "ds", 10.0)
    inter = np.asarray(load_dataset(tmp_path / "ds").episode(0)["intervention"])
    assert inter.sum() >= 2


def test_teleop_keyboard_in_a_terminal() -> None:
    """The README's `being-h0 teleop --device keyboard`: clutch in, move down, the wrist follows, q quits."""
    sent = {"keys": False, "quit": False}

    def operator(text: str) -> bytes:
        if not sent["keys"] and "clutch off" in text:
            sent["keys"] = True
            return b" ffff"
        if sent["keys"] and not sent["quit"] and "clutch ON" in text and "-0.0" in text.rsplit("clutch ON", 1)[1][:40]:
            sent["quit"] = True
            return b"q"
        return b""

    rc, text = _cli_in_terminal(["teleop", "--device", "keyboard"], operator, timeout_s=120)
    assert sent["quit"], text[-2000:]
    assert rc == 0, text[-2000:]
    assert "space      clutch" in text and "stopped by operator teleop:keyboard" in text


def test_device_errors_are_clear_and_exit_2(capsys, tmp_path: Path) -> None:
    assert main(["teleop", "--device", "trackball"]) == 2
    assert "unknown device" in capsys.readouterr().err
    assert main(["run", "--teleop", f"video:{tmp_path / 'none.mp4'}"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["record", "--teleop", "spacemouse", "--out", str(tmp_path / "r")]) == 2  # no hidapi or no device
    assert "spacemouse device" in capsys.readouterr().err


def test_run_with_teleop_takeover_in_a_terminal(tmp_path: Path) -> None:
    """`being-h0 run --expert --teleop keyboard --record DIR`: space takes over from the policy, space gives back."""
    state = {"n": 0}

    def operator(text: str) -> bytes:
        lines = text.count("running")
        if state["n"] == 0 and lines >= 2:
            state["n"] = 1
            return b" "  # take over
        if state["n"] == 1 and "TAKEOVER" in text and text.count("TAKEOVER") >= 2:
            state["n"] = 2
            return b" "  # give control back
        return b""

    rc, text = _cli_in_terminal(["run", "--expert", "--teleop", "keyboard", "--time-limit", "4",
                                 "--record", str(tmp_path / "dagger")], operator)
    assert state["n"] == 2, text[-2000:]
    assert rc == 1 and "outcome: FAILURE" in text  # 4 s is too short to place the toy: the task times out
    assert "1 takeover(s)" in text, text[-2000:]
    (ep,) = [p for p in (tmp_path / "dagger").iterdir() if p.is_dir()]
    from being_h0_runtime.recording.bag import load_metadata

    assert len(load_metadata(ep).interventions) == 1
