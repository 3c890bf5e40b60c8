"""Run a launch profile as one process per node over Cyclone DDS.

Start order is the profile's order; shutdown is the reverse (SIGINT, then
SIGKILL after a grace period), so the actuators are the last to go and hold
while the rest stops.  Every parameter of every node is validated before the
first process starts.

If a node process dies on its own, `poll` reports it (name, exit code or
signal) and the caller latches the e-stop (every actuator holds); then the
node's `restart` policy decides: ``never`` (default) brings the graph down,
``on-failure`` starts the node again (at most `max_restarts` times) while the
e-stop stays latched until an operator resets it.  A recorder that dies
mid-episode leaves a readable episode: the launcher recovers it (at most the
last flush interval is lost).  Each node runs in its own process group, which
shutdown empties, so no process outlives the launcher's graph.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .launch import Profile, with_engine_execution
from .transport.dds_network import new_graph_id

log = logging.getLogger("being_h0.launcher")


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: Path
    restarts: int = 0
    #: exit already reported by poll() (so a node that stays dead is reported once)
    reported: bool = False


@dataclass
class NodeDeath:
    """A node process that exited while the graph was meant to be running."""

    name: str
    returncode: int
    restarted: bool
    restarts: int
    recovered: list[str] = field(default_factory=list)

    @property
    def how(self) -> str:
        if self.returncode < 0:
            try:
                return f"killed by {signal.Signals(-self.returncode).name}"
            except ValueError:
                return f"killed by signal {-self.returncode}"
        return f"exit {self.returncode}"


class GraphLauncher:
    def __init__(self, profile: Profile, run_dir: Path, domain_id: int | None = None,
                 overrides: dict[str, dict[str, Any]] | None = None, log_level: str = "INFO",
                 graph_id: str | None = None) -> None:
        self.profile = profile
        self.run_dir = run_dir
        #: every launch has a domain (the profile's, or a fresh sim one) and its own graph id
        self.domain_id = profile.launch_domain(domain_id)
        self.graph_id = graph_id or new_graph_id()
        #: with the engine manifest's recommended executor for actuators the profile leaves unpinned
        self.overrides = with_engine_execution(profile, run_dir, overrides)
        self.log_level = log_level
        self.children: list[Child] = []
        self.stopping = False
        self.stream_logs = False
        self._params: dict[str, Any] = {}

    def start(self, stream_logs: bool = False) -> None:
        # every node's parameters, before any process exists: a typo must not leave half a graph running
        self._params = self.profile.validate_nodes(self.run_dir, self.overrides)
        self.stream_logs = stream_logs
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for name in self.profile.nodes:
            self.children.append(self._spawn(name))

    def all_ready(self) -> bool:
        """Every node process has built and activated its node (its ready mark names its current pid).

        The task node's latched status says only that the task node is up; an episode started then ran
        while the inference node was still loading its engine (seen under load: the first chunk came
        seconds into the task, computed from whatever frame was there).
        """
        from .node_main import ready_mark

        for c in self.children:
            try:
                if ready_mark(self.run_dir, c.name).read_text().strip() != str(c.proc.pid):
                    return False
            except OSError:
                return False
        return True

    def _spawn(self, name: str, restarts: int = 0) -> Child:
        env = dict(os.environ)
        env.setdefault("MUJOCO_GL", "egl")
        cmd = [sys.executable, "-m", "being_h0_runtime.node_main", "--profile", self.profile.source, "--node", name,
               "--run-dir", str(self.run_dir), "--params-json", json.dumps(self.overrides.get(name, {})),
               "--log-level", self.log_level, "--domain-id", str(self.domain_id), "--graph-id", self.graph_id]
        log_path = self.run_dir / f"{name}.log"
        out = None if self.stream_logs else open(log_path, "ab" if restarts else "wb")
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if out else None, env=env,
                                    start_new_session=True)  # Ctrl-C reaches the launcher, which stops children in order
        finally:
            if out is not None:
                out.close()  # the child has its own copy
        return Child(name, proc, log_path, restarts)

    def poll(self) -> list[NodeDeath]:
        """Node processes that died since the last call; those whose policy says so are started again."""
        if self.stopping:
            return []
        deaths = []
        for i, child in enumerate(self.children):
            code = child.proc.poll()
            if code is None or child.reported:
                continue
            child.reported = True
            entry = self.profile.nodes[child.name]
            recovered = self._recover_recordings(child.name)
            restart = entry.restart == "on-failure" and child.restarts < entry.max_restarts
            if restart:
                self._reap_group(child)
                self.children[i] = self._spawn(child.name, child.restarts + 1)
            deaths.append(NodeDeath(child.name, code, restart, child.restarts + int(restart), recovered))
        return deaths

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
        """Node processes that are down and stay down (restarted ones are not listed)."""
        return [(c.name, c.proc.returncode) for c in self.children if c.proc.poll() is not None]

    def tail(self, name: str, lines: int = 15) -> str:
        for c in self.children:
            if c.name == name and c.log_path.exists():
                return "\n".join(c.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def _recover_recordings(self, name: str) -> list[str]:
        """A recorder killed mid-episode leaves an MCAP without footer: rewrite it so every reader opens it."""
        if self.profile.nodes[name].type != "recorder" or name not in self._params:
            return []
        from .recording.bag import load_metadata, recover_episode

        out_dir = Path(self._params[name].output_dir)
        recovered = []
        for ep in sorted(p for p in out_dir.glob("*") if p.is_dir() and not p.name.startswith(".")):
            try:
                if load_metadata(ep).status != "recording":
                    continue
                meta = recover_episode(ep)
            except Exception as err:  # noqa: BLE001 - report and keep the graph's fault handling going
                log.error("could not recover %s: %s (run `being-h0 dataset recover %s`)", ep, err, ep)
                continue
            recovered.append(f"{ep} ({sum(meta.message_counts.values())} messages)")
        return recovered

    @staticmethod
    def _reap_group(child: Child) -> None:
        """Kill whatever is left in the child's process group (a node's own helpers)."""
        try:
            os.killpg(child.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def shutdown(self, grace_s: float = 5.0) -> dict[str, int | None]:
        """Reverse-order stop, then empty every node's process group. Returns each child's exit code."""
        self.stopping = True
        for child in reversed(self.children):
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGINT)
                try:
                    child.proc.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop within %.0f s of SIGINT; killing it", child.name, grace_s)
                    child.proc.kill()
                    child.proc.wait()
            self._reap_group(child)
        return {c.name: c.proc.returncode for c in self.children}

    def __enter__(self) -> "GraphLauncher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def report_deaths(launcher: GraphLauncher, deaths: list[NodeDeath], estop: Callable[[str], None],
                  say: Callable[[str], None] = print) -> bool:
    """Latch the e-stop for `deaths` and tell the operator what happened; True if the graph must stop."""
    if not deaths:
        return False
    names = ", ".join(f"{d.name} ({d.how})" for d in deaths)
    estop(f"node process died: {names}")  # first: every actuator holds, whatever happens next
    stop = any(not d.restarted for d in deaths)
    for d in deaths:
        for ep in d.recovered:
            say(f"recovered the interrupted recording {ep}")
        if d.restarted:
            limit = launcher.profile.nodes[d.name].max_restarts
            say(f"node process died: {d.name} ({d.how}); e-stop latched; restarting it "
                f"({d.restarts}/{limit}, policy on-failure); reset the e-stop to resume")
    if stop:
        dead = ", ".join(f"{d.name} ({d.how})" for d in deaths if not d.restarted)
        say(f"error: node process died: {dead}; latching e-stop and bringing the graph down")
    return stop


def wait_any_dead(launcher: GraphLauncher, poll_s: float = 0.1, timeout_s: float | None = None) -> list[tuple[str, int]]:
    end = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        dead = launcher.dead()
        if dead or (end is not None and time.monotonic() > end):
            return dead
        time.sleep(poll_s)
