"""Launch profiles: one YAML per rig set-up, read by `being-h0 launch/run` and
by launch/being_h0.launch.py on a ROS 2 machine (one source of truth).

A profile names the nodes of the graph, their types and parameters.  String
parameters may use ``${run_dir}`` (a fresh directory per launch) and
``${profile_dir}`` (the directory of the profile file) and ``${repo_dir}`` (this
checkout, for files shipped with it such as calibration/virtual).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .config import ConfigError, StrictModel, load_yaml_model
from .nodes.base import NODE_TYPES, RuntimeNode, build_node
from .transport.api import Context
from .transport.dds_network import RIG_DOMAINS, SIM_DOMAINS, DdsNetwork, pick_sim_domain

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILE_DIR = REPO_ROOT / "launch"


class NodeEntry(StrictModel):
    type: str
    params: dict[str, Any] = Field(default_factory=dict)
    #: files that must exist before this node starts (e.g. an emulated serial port)
    wait_for_files: list[str] = Field(default_factory=list)
    #: sim-time nodes follow /clock; the virtual rig itself drives it
    use_sim_time: bool | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        if v not in NODE_TYPES:
            raise ValueError(f"unknown node type {v!r}; known: {', '.join(sorted(NODE_TYPES))}")
        return v


class TaskDefaults(StrictModel):
    task_id: str = "pick_place_toy"
    variation: str = "seen"
    instruction: str = "pick up the toy and put it in the box"


class Profile(StrictModel):
    name: str
    description: str = ""
    rig: Literal["virtual", "real"] = "virtual"
    use_sim_time: bool = False
    task: TaskDefaults = Field(default_factory=TaskDefaults)
    #: start order; shutdown runs in reverse (actuators hold last)
    nodes: dict[str, NodeEntry] = Field(min_length=1)
    #: DDS interface, domain and graph isolation (default: loopback only, a fresh domain per launch)
    dds: DdsNetwork = Field(default_factory=DdsNetwork)

    source: str = ""

    @model_validator(mode="after")
    def _dds_matches_rig(self) -> Profile:
        # A sim graph and a rig graph must never meet: disjoint domain ranges, and a real rig says
        # explicitly which interface and domain it uses (no defaults that could be a laptop's).
        d = self.dds
        if self.rig == "real":
            if d.domain_id is None or d.domain_id not in RIG_DOMAINS:
                raise ValueError(f"dds.domain_id: a real rig pins its DDS domain in {RIG_DOMAINS.start}.."
                                 f"{RIG_DOMAINS.stop - 1} (got {d.domain_id}); e.g. dds: {{domain_id: 42}}")
            if "interface" not in d.model_fields_set:
                raise ValueError("dds.interface: a real rig names its DDS interface explicitly "
                                 "('lo' when every node runs on the rig PC, else the NIC, e.g. enp3s0)")
        elif d.domain_id is not None and d.domain_id not in SIM_DOMAINS:
            raise ValueError(f"dds.domain_id: a virtual-rig profile uses domains {SIM_DOMAINS.start}.."
                             f"{SIM_DOMAINS.stop - 1} so it can never share one with a real rig (got {d.domain_id})")
        return self

    def launch_domain(self, requested: int | None = None) -> int:
        """The domain id one launch of this profile uses (`requested`: the CLI's --domain-id)."""
        domain = requested if requested is not None else self.dds.domain_id
        if domain is None:
            return pick_sim_domain()
        allowed = RIG_DOMAINS if self.rig == "real" else SIM_DOMAINS
        if domain not in allowed:
            raise ConfigError(f"--domain-id {domain}: a {self.rig} profile uses DDS domains "
                              f"{allowed.start}..{allowed.stop - 1} (sim and rig ranges never overlap)")
        return domain

    def resolved_params(self, node: str, run_dir: Path) -> dict[str, Any]:
        return _substitute(self.nodes[node].params, self._variables(run_dir))

    def resolved_files(self, node: str, run_dir: Path) -> list[str]:
        return _substitute(self.nodes[node].wait_for_files, self._variables(run_dir))

    def _variables(self, run_dir: Path) -> dict[str, str]:
        return {"run_dir": str(run_dir), "profile_dir": str(Path(self.source).parent), "repo_dir": str(REPO_ROOT)}

    def node_uses_sim_time(self, node: str) -> bool:
        entry = self.nodes[node]
        if entry.use_sim_time is not None:
            return entry.use_sim_time
        return self.use_sim_time and entry.type != "virtual_rig"


_VAR = re.compile(r"\$\{(\w+)\}")


def _substitute(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            if m.group(1) not in env:
                raise ConfigError(f"unknown variable ${{{m.group(1)}}}; known: {sorted(env)}")
            return env[m.group(1)]
        return _VAR.sub(repl, value)
    if isinstance(value, dict):
        return {k: _substitute(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, env) for v in value]
    return value


def find_profile(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise ConfigError(f"{p}: profile file not found")
        return p
    candidate = PROFILE_DIR / f"{name_or_path}.yaml"
    if not candidate.exists():
        known = sorted(x.stem for x in PROFILE_DIR.glob("*.yaml"))
        raise ConfigError(f"no launch profile named {name_or_path!r}; known: {known}")
    return candidate


def load_profile(name_or_path: str) -> Profile:
    path = find_profile(name_or_path)
    profile = load_yaml_model(Profile, path)
    profile.source = str(path)
    return profile


def build_graph(profile: Profile, ctx: Context, run_dir: Path, overrides: dict[str, dict[str, Any]] | None = None,
                only: list[str] | None = None) -> dict[str, RuntimeNode]:
    """Construct the profile's nodes in one context (in-process graph)."""
    nodes: dict[str, RuntimeNode] = {}
    for name, entry in profile.nodes.items():
        if only is not None and name not in only:
            continue
        params = profile.resolved_params(name, run_dir)
        for key, value in (overrides or {}).get(name, {}).items():
            params[key] = value
        handle = ctx.create_node(name, params)
        nodes[name] = build_node(entry.type, handle, params, f"{profile.source}: nodes.{name}.params")
    return nodes


def close_graph(nodes: dict[str, RuntimeNode]) -> None:
    errors = []
    for node in reversed(list(nodes.values())):
        try:
            node.close()
        except Exception as err:  # keep closing the others: actuators must reach their hold
            errors.append(err)
    if errors:
        raise errors[0]
