"""Shared test set-up.

Network guard (loopback only): the whole suite runs with ``BEING_H0_LOOPBACK_ONLY=1`` (inherited by
every node process a test spawns) and with Python's socket connect/send wrapped, so a test that
tries to reach any address outside 127.0.0.0/8 fails with that address in the message.  Cyclone DDS
participants are loopback-only by the project's own configuration (transport/dds_network.py), which
tests/test_dds_loopback.py checks from Cyclone's own trace.
"""

from __future__ import annotations

import os

import pytest

from being_h0_runtime import netguard
from being_h0_runtime.transport.dds_network import SIM_DOMAINS

os.environ[netguard.ENV] = "1"
netguard.install_socket_guard()

#: fixtures shared by several test files, kept in their own modules under tests/helpers/
pytest_plugins = ["helpers.inspire"]


def sim_domain(offset: int) -> int:
    """A DDS domain id for one test's graph: in the sim range, spread by pid so parallel runs differ."""
    return SIM_DOMAINS.start + (os.getpid() + offset) % len(SIM_DOMAINS)


@pytest.fixture
def loopback_only_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(netguard.ENV, "1")


# ---------------------------------------------------------------------------------------------------
# Process-graph helpers (tests that spawn `being-h0 run/launch`): wait on the process's own output with
# generous timeouts instead of sleeping, and find node processes left behind.  Wall-clock timeouts here
# are only upper bounds for "something is stuck", never what a test measures.
# ---------------------------------------------------------------------------------------------------
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

#: the longest a graph may take to come up, or to stop, on a loaded 2-core machine
GRAPH_TIMEOUT_S = float(os.environ.get("BEING_H0_TEST_GRAPH_TIMEOUT", "240"))
CLI_ENV = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONUNBUFFERED": "1"}


class ProcessOutput:
    """Reads a process's merged stdout on a thread; tests wait for lines instead of sleeping."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float = GRAPH_TIMEOUT_S, start: int = 0) -> tuple[int, re.Match[str]]:
        """(index, match) of the first line at or after `start` matching the regex `pattern`."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self._cond:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                    i += 1
                left = end - time.monotonic()
                if self._done or left <= 0:
                    why = "the process ended" if self._done else f"{timeout:.0f} s passed"
                    raise AssertionError(f"no line matching {pattern!r} ({why}); output:\n{self.text()[-6000:]}")
                self._cond.wait(min(left, 1.0))

    def wait_exit(self, timeout: float = GRAPH_TIMEOUT_S) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # a hang: ask the CLI for its threads' stacks (cli.py registers SIGUSR1) and show them with the output
            masks = _signal_masks(self.proc.pid)  # before SIGUSR1: blocked / ignored / caught signals
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(2.0)
            raise AssertionError(f"still running {timeout:.0f} s later; {masks}; output and stacks:\n"
                                 f"{self.text()[-12000:]}")
        self._thread.join(timeout=10)
        return code

    def text(self) -> str:
        return "".join(self.lines)


def _signal_masks(pid: int) -> str:
    """The SigBlk/SigIgn/SigCgt lines of a process and of this test process, for a hang report."""
    def masks(path: str) -> str:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            return str(exc)
        return " ".join(line.replace("\t", "") for line in lines if line.startswith(("SigBlk", "SigIgn", "SigCgt")))
    return f"child {masks(f'/proc/{pid}/status')}; pytest {masks('/proc/self/status')}"


# `python -m being_h0_runtime.cli`, started as from a terminal's foreground. A test run started in the background
# of a non-interactive shell (`make test &`, nohup, some CI runners) has SIGINT ignored, POSIX's rule for background
# jobs; children inherit that, and the CLI rightly keeps an inherited SIG_IGN (interrupts.py), so a test that
# plays the operator's Ctrl-C must give its CLI the default disposition. (Not preexec_fn: unsafe with threads.)
_AS_IN_A_TERMINAL = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                     "sys.argv[0] = 'being_h0_runtime.cli'; runpy.run_module('being_h0_runtime.cli', run_name='__main__')")


def spawn_cli(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, ProcessOutput]:
    proc = subprocess.Popen([sys.executable, "-c", _AS_IN_A_TERMINAL, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env or CLI_ENV)
    return proc, ProcessOutput(proc)


def node_pids(run_dir: Path | str, node: str = "[^ ]+") -> list[int]:
    """PIDs of the node processes of the graph whose run directory is `run_dir` (all, or one node's).

    Matched by run directory, unique per test, not by DDS domain: other test runs on the same machine
    may use the same domain id, and their processes are not ours to find or kill."""
    where = re.sub(r"([.\[\]()*+?{}|^$\\])", r"\\\1", str(run_dir))  # literal in pgrep's extended regex
    out = subprocess.run(["pgrep", "-f", f"node_main .*--node {node} --run-dir {where} "],
                         capture_output=True, text=True, check=False)  # exit 1 = none found
    return [int(p) for p in out.stdout.split()]


def wait_no_node_processes(run_dir: Path | str, timeout: float = 30.0) -> list[int]:
    """Wait until no node process of the graph in `run_dir` is left; returns those still there after `timeout`."""
    end = time.monotonic() + timeout
    while (left := node_pids(run_dir)) and time.monotonic() < end:
        time.sleep(0.2)  # polling the process table: there is no event for "a process exited" to wait on
    return left


def stop_process(proc: subprocess.Popen) -> None:
    """Test clean-up: the launcher, then (through its own shutdown) its nodes."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


# ---------------------------------------------------------------------------------------------------
# A pseudo-terminal, for the serial devices (foot switch, keyboard teleop, operator console) under test.
# ---------------------------------------------------------------------------------------------------
@pytest.fixture
def pty_pair() -> Iterator[tuple[int, int]]:
    """A fresh pseudo-terminal as (master fd, slave fd); both closed after the test if still open."""
    master, slave = os.openpty()
    yield master, slave
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:  # the test already closed it
            pass
