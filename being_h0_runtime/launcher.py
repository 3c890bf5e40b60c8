"""Run a launch profile as one process per node over Cyclone DDS.

Start order is the profile's order; shutdown is the reverse (SIGINT, then
SIGKILL after a grace period), so the actuators are the last to go and hold
while the rest stops.  If any node process dies on its own, the launcher
latches the e-stop (every actuator holds) and brings the graph down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .launch import Profile
from .transport.dds_network import new_graph_id


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: Path


class GraphLauncher:
    def __init__(self, profile: Profile, run_dir: Path, domain_id: int | None = None,
                 overrides: dict[str, dict[str, Any]] | None = None, log_level: str = "INFO",
                 graph_id: str | None = None) -> None:
        self.profile = profile
        self.run_dir = run_dir
        #: every launch has a domain (the profile's, or a fresh sim one) and its own graph id
        self.domain_id = profile.launch_domain(domain_id)
        self.graph_id = graph_id or new_graph_id()
        self.overrides = overrides or {}
        self.log_level = log_level
        self.children: list[Child] = []
        self.stopping = False

    def start(self, stream_logs: bool = False) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.setdefault("MUJOCO_GL", "egl")
        for name in self.profile.nodes:
            cmd = [sys.executable, "-m", "being_h0_runtime.node_main", "--profile", self.profile.source, "--node", name,
                   "--run-dir", str(self.run_dir), "--params-json", json.dumps(self.overrides.get(name, {})),
                   "--log-level", self.log_level, "--domain-id", str(self.domain_id), "--graph-id", self.graph_id]
            log_path = self.run_dir / f"{name}.log"
            out = None if stream_logs else open(log_path, "wb")
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if out else None, env=env,
                                    start_new_session=True)  # Ctrl-C reaches the launcher, which stops children in order
            self.children.append(Child(name, proc, log_path))

    def network_summary(self) -> str:
        """One line for the operator: which interface, domain and graph this launch uses."""
        return (f"DDS: {self.profile.dds.describe()}, domain {self.domain_id}, graph {self.graph_id}"
                f"{'' if self.profile.dds.isolation == 'partition' else ' (graph isolation OFF)'}")

    def context(self, use_sim_time: bool = False):
        """A DDS context in this launch's graph (for the launcher's own console)."""
        from .transport.dds import DdsContext

        return DdsContext(domain_id=self.domain_id, use_sim_time=use_sim_time, network=self.profile.dds,
                          graph_id=self.graph_id)

    def dead(self) -> list[tuple[str, int]]:
        return [(c.name, c.proc.returncode) for c in self.children if c.proc.poll() is not None]

    def tail(self, name: str, lines: int = 15) -> str:
        for c in self.children:
            if c.name == name and c.log_path.exists():
                return "\n".join(c.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def shutdown(self, grace_s: float = 5.0) -> dict[str, int | None]:
        """Reverse-order stop. Returns each child's exit code."""
        self.stopping = True
        for child in reversed(self.children):
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGINT)
                try:
                    child.proc.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    child.proc.kill()
                    child.proc.wait()
        return {c.name: c.proc.returncode for c in self.children}

    def __enter__(self) -> "GraphLauncher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def wait_any_dead(launcher: GraphLauncher, poll_s: float = 0.1, timeout_s: float | None = None) -> list[tuple[str, int]]:
    end = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        dead = launcher.dead()
        if dead or (end is not None and time.monotonic() > end):
            return dead
        time.sleep(poll_s)
