"""The operator console: keys in, status out (units, an in-process episode, and a real terminal under tmux)."""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from being_h0_runtime import console as con
from being_h0_runtime.console import (
    KEYS,
    ConsoleStatus,
    KeyReader,
    StatusLine,
    help_line,
)

REPO = Path(__file__).resolve().parents[1]


def test_lines_from_a_pipe_are_commands_and_eof_ends_reading() -> None:
    r, w = os.pipe()
    with os.fdopen(r, "r") as rf, KeyReader(rf) as keys:
        assert not keys.tty
        os.write(w, b"e\nR\nquit\nstop\nfoo\n\n  s  \nx")
        assert keys.actions() == ["estop", "reset", "quit", "abort", "?foo", "start"]
        os.close(w)
        assert keys.actions() == ["rerecord"]  # the last line had no newline: EOF completes it
        assert keys.eof and keys.actions() == []


def test_a_terminal_gets_single_keys_in_cbreak_mode_and_is_restored(monkeypatch: pytest.MonkeyPatch,
                                                                     pty_pair: tuple[int, int]) -> None:
    master, slave = pty_pair
    monkeypatch.setattr(con.keys, "_foreground", lambda fd: True)  # a fresh pty is nobody's controlling terminal
    before = termios.tcgetattr(slave)
    assert before[3] & termios.ICANON
    with os.fdopen(slave, "r", closefd=False) as stream, KeyReader(stream) as keys:
        assert keys.tty
        assert not termios.tcgetattr(slave)[3] & termios.ICANON, "no Enter needed on a terminal"
        os.write(master, b"e \x1b[Aqz\n")  # e, space, an arrow key (ignored), q, an unknown key, Enter
        time.sleep(0.05)
        assert keys.actions() == ["estop", "estop", "quit", "?z"]
    assert termios.tcgetattr(slave) == before, "terminal mode restored on exit"


def test_plain_status_lines_only_on_change_and_a_terminal_line_is_redrawn_in_place() -> None:
    out = io.StringIO()
    line = StatusLine(out, tty=False, plain_period_s=60)
    st = ConsoleStatus(task="pick_place_toy", state="running", episode=2, episodes=5, elapsed_s=3.2, loop_hz=99.0,
                       inference_hz=5.0, recording_bytes=3 * 1024 * 1024, message="go")
    line.update(st)
    st.elapsed_s = 3.4
    line.update(st)  # only the clock moved: no new line
    st.estop = "console:op: operator key"
    line.update(st)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()
    assert lines[0] == ("pick_place_toy | running | episode 2/5 |   3.2 s | e-stop clear | loop 99 Hz | infer 5.0 Hz"
                        " | rec 3.0 MB | go")
    assert "E-STOP LATCHED (console:op: operator key)" in lines[1]
    term = io.StringIO()
    tline = StatusLine(term, tty=True, redraw_period_s=0)
    tline.update(st)
    tline.message("E-STOP sent")
    assert term.getvalue().startswith("\r\x1b[2Kpick_place_toy | running")
    assert "\r\x1b[2KE-STOP sent\n\r\x1b[2Kpick_place_toy" in term.getvalue()


def test_help_line_names_every_key_once() -> None:
    chars = [k.char for k in KEYS]
    assert len(set(chars)) == len(chars)
    assert {k.action for k in KEYS} >= {"start", "abort", "estop", "reset", "success", "failure", "rerecord", "quit"}
    for k in KEYS:
        assert f"{k.char}={k.action}" in help_line()


def test_the_readme_key_table_is_the_console_s_keys() -> None:
    text = (REPO / "README.md").read_text()
    table = text[text.index("### The operator console"):]
    first_columns = re.findall(r"^\| (`[^|]*)\|", table, re.MULTILINE)
    documented = [key for col in first_columns for key in re.findall(r"`(\w)`", col)]
    assert sorted(documented) == sorted(k.char for k in KEYS)


def test_estop_holds_the_episode_and_it_resumes_after_reset() -> None:
    os.environ.setdefault("MUJOCO_GL", "egl")
    from being_h0_runtime.msgs import EStop
    from being_h0_runtime.operator import run_episode_inproc
    from being_h0_runtime.policy.expert import with_expert
    from being_h0_runtime.transport.api import ESTOP_QOS

    seen: dict[str, object] = {}

    def setup(ctx, nodes):
        h = ctx.create_node("operator_keys")
        pub = h.create_publisher(EStop, "/estop", ESTOP_QOS)

        def stop():
            t1.cancel()
            pub.publish(EStop(engaged=True, source="console:test", reason="operator key"))

        def reset():
            t2.cancel()
            seen["held"] = nodes["arm"].holding and nodes["hand"].holding
            seen["state_while_held"] = nodes["task"].state
            seen["message_while_held"] = nodes["task"].message
            pub.publish(EStop(engaged=False, source="console:test", reason="operator reset", operator="test"))

        t1 = h.create_timer(3.0, stop)
        t2 = h.create_timer(5.0, reset)

    over = with_expert({"virtual_rig": {"camera_rate_hz": 0, "hand_baudrate": None}})
    out = run_episode_inproc("sim", seed=1, overrides=over, setup=setup, time_limit_s=40.0)
    assert seen["held"] is True
    assert seen["state_while_held"] == "running"
    assert "held by e-stop from console:test" in str(seen["message_while_held"])
    assert "aborted" not in [s for _, s in out.history]
    assert out.state == "succeeded", out.message


# ---------------------------------------------------------------------------------- a real terminal


class Tmux:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-J")

    def wait_for(self, pattern: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if re.search(pattern, text):
                return text
            time.sleep(0.3)
        raise AssertionError(f"{pattern!r} not on the screen after {timeout_s} s:\n{text}")


def status_line(screen: str) -> str:
    lines = [ln for ln in screen.splitlines() if ln.startswith("pick_place_toy |")]
    assert lines, screen
    return lines[-1]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_launch_console_in_a_real_terminal(tmp_path: Path) -> None:
    """Keys in, screen out: start, e-stop latches and holds, reset resumes, abort, q quits, nothing left over."""
    from conftest import sim_domain

    domain = sim_domain(121)
    env = f"PYTHONPATH={shlex.quote(str(REPO))} MUJOCO_GL=egl BEING_H0_LOOPBACK_ONLY=1 TERM=xterm"
    cmd = (f"cd {shlex.quote(str(REPO))} && {env} {shlex.quote(sys.executable)} -m being_h0_runtime.cli launch sim "
           f"--domain-id {domain} --run-dir {shlex.quote(str(tmp_path / 'run'))}; echo EXIT=$?; "
           f"stty -a | grep -o -- '-*icanon'; sleep 120")
    tmux = Tmux(f"bh0-console-{os.getpid()}")
    tmux("new-session", "-d", "-x", "200", "-y", "40", cmd)
    try:
        tmux.wait_for(r"graph up: s starts", 60)
        tmux.wait_for(r"pick_place_toy \| idle \| episode 0 \|[^\n]*loop \d+ Hz", 10)
        tmux("send-keys", "s")
        screen = tmux.wait_for(r"pick_place_toy \| running \| episode 1", 30)
        tmux("send-keys", "e")
        screen = tmux.wait_for(r"E-STOP LATCHED \(console:", 10)
        line = status_line(screen)
        assert "| running |" in line, "an e-stop holds the episode, it does not end it"
        assert "held by e-stop" in (tmux.wait_for(r"episode 1: held by e-stop", 10))
        tmux("send-keys", "s")  # start while an episode runs: refused with what to do instead
        tmux.wait_for(r"episode 1 is running: a aborts it", 5)
        tmux("send-keys", "r")
        screen = tmux.wait_for(r"\| running \| episode 1 \|[^\n]*e-stop clear", 10)
        assert "e-stop reset by" in screen
        tmux("send-keys", "a")
        tmux.wait_for(r"\| aborted \| episode 1", 10)
        tmux("send-keys", "e")  # keys work in every state: e-stop when idle, then start is refused until reset
        tmux.wait_for(r"\| aborted \|[^\n]*E-STOP LATCHED", 10)
        tmux("send-keys", "s")
        tmux.wait_for(r"e-stop is latched: r resets it, then s starts", 5)
        tmux("send-keys", "q")
        screen = tmux.wait_for(r"EXIT=\d+", 30)
        assert "EXIT=0" in screen
        assert re.search(r"^icanon", tmux.wait_for(r"icanon", 5), re.MULTILINE), "terminal left in cbreak mode"
        left = subprocess.run(["pgrep", "-f", f"node_main .*--domain-id {domain}"], capture_output=True, text=True)
        assert left.stdout.strip() == "", "node processes left behind"
        (tmp_path / "screen.txt").write_text(screen)
    finally:
        subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], capture_output=True)
        left = subprocess.run(["pgrep", "-f", f"node_main .*--domain-id {domain}"], capture_output=True, text=True)
        for pid in left.stdout.split():
            subprocess.run(["kill", "-9", pid], capture_output=True)


def _sweep_with_keys(tmp_path: Path, keys: bytes, trials: int = 1):
    from being_h0_runtime.bench import runner
    from being_h0_runtime.console import EpisodeConsole

    r, w = os.pipe()
    os.write(w, keys)
    os.close(w)
    out = io.StringIO()
    plan = runner.plan(["pick_place_toy:seen"], trials, base_seed=0)
    with os.fdopen(r, "r") as rf, EpisodeConsole(trials, keys=KeyReader(rf), line=StatusLine(out, tty=False),
                                                  what="trial") as console:
        summary = runner.run_sweep(plan, runner.resolve_engine("expert"), "sim", tmp_path / "r.sqlite",
                                   tmp_path / "out", frames=0, time_limit_s=2.0, progress=False, console=console)
    return summary, runner.load_results(tmp_path / "r.sqlite"), out.getvalue()


def test_bench_console_x_reruns_the_trial_and_writes_it_once(tmp_path: Path) -> None:
    summary, rows, text = _sweep_with_keys(tmp_path, b"x\n")
    assert "re-recording trial 1: this one is discarded" in text and "trial 1 discarded; running it again" in text
    assert summary.ran == 1 and [r["seed"] for r in rows] == [0]
    assert rows[0]["state"] == "timeout"  # the first attempt was stopped; the rerun ran to its time limit
    assert "| trial 1/1 |" in text


def test_bench_console_q_aborts_and_writes_nothing(tmp_path: Path) -> None:
    summary, rows, text = _sweep_with_keys(tmp_path, b"q\n", trials=2)
    assert "trial 1 aborted by the operator: not written" in text
    assert summary.ran == 0 and rows == []
