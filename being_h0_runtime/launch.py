"""Launch profiles: one YAML per rig set-up, read by `being-h0 launch/run` and
by launch/being_h0.launch.py on a ROS 2 machine (one source of truth).

A profile names the nodes of the graph, their types and parameters.  String
parameters may use ``${run_dir}`` (a fresh directory per launch) and
``${profile_dir}`` (the directory of the profile file) and ``${repo_dir}`` (this
checkout, for files shipped with it such as calibration/virtual).  Relative
paths in path parameters (calibration_dir, engine_dir, output_dir, ...) resolve
against the profile file's folder, never against the working directory.

`Profile.validate` checks every node's parameters (and `--set` overrides)
before anything starts: a typo is one error naming the file and key path, with
the closest valid key.
"""

from __future__ import annotations

import copy
import logging
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from .config import (
    ConfigError,
    StrictModel,
    did_you_mean,
    load_yaml_model,
    model_in_annotation,
)
from .nodes.base import NODE_TYPES, RuntimeNode, node_class, validate_params
from .transport.api import Context
from .transport.dds_network import RIG_DOMAINS, SIM_DOMAINS, DdsNetwork, pick_sim_domain

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILE_DIR = REPO_ROOT / "launch"
log = logging.getLogger(__name__)


class NodeEntry(StrictModel):
    type: str
    params: dict[str, Any] = Field(default_factory=dict)
    #: files that must exist before this node starts (e.g. an emulated serial port)
    wait_for_files: list[str] = Field(default_factory=list)
    #: sim-time nodes follow /clock; the virtual rig itself drives it
    use_sim_time: bool | None = None
    #: when this node's process dies on its own, the launcher always latches the e-stop first (every
    #: actuator holds), then: never = stops the whole graph (actuators last); on-failure = starts the
    #: node again (up to max_restarts times), the graph stays up and an operator resets the e-stop
    restart: Literal["never", "on-failure"] = "never"
    max_restarts: int = Field(3, ge=0)

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

    @property
    def base_dir(self) -> str:
        """Relative paths in this profile resolve against its folder."""
        return str(Path(self.source).resolve().parent) if self.source else str(Path.cwd())

    def node_params(self, node: str, run_dir: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The node's parameters with ${variables} substituted and `overrides` (--set) applied."""
        return apply_overrides(self.resolved_params(node, run_dir), overrides or {})

    def validate_nodes(self, run_dir: Path, overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, BaseModel]:
        """Validate every node's parameters before anything starts; all problems in one ConfigError."""
        overrides = overrides or {}
        errors = check_overrides(self, overrides)
        if errors:  # the full validation would only repeat them, with less helpful paths
            raise ConfigError("\n".join(errors))
        out: dict[str, BaseModel] = {}
        for name, entry in self.nodes.items():
            try:
                out[name] = validate_params(entry.type, self.node_params(name, run_dir, overrides.get(name)),
                                            self.source, self.base_dir, prefix=f"nodes.{name}.params")
            except ConfigError as err:
                errors.append(str(err))
        if errors:
            raise ConfigError("\n".join(errors))
        return out

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


def apply_overrides(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of `params` with `overrides` set; a dotted key (``safety.margins.position_rad``) sets one
    nested value and keeps its siblings, a plain key replaces the whole value."""
    out = copy.deepcopy(params)
    for key, value in overrides.items():
        *parents, leaf = key.split(".")
        target = out
        for part in parents:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        target[leaf] = value
    return out


def check_overrides(profile: Profile, overrides: dict[str, dict[str, Any]]) -> list[str]:
    """`--set NODE.KEY=VALUE` problems: a node or key that does not exist, with the closest real one."""
    errors = []
    for node, params in overrides.items():
        if node not in profile.nodes:
            errors.append(f"--set {node}.{next(iter(params), '')}: profile {profile.name!r} has no node {node!r}"
                          f"{did_you_mean(node, profile.nodes)}")
            continue
        model: type[BaseModel] | None = node_class(profile.nodes[node].type).Params
        for key in params:
            walked = []
            for part in key.split("."):
                if model is None:
                    break  # a free-form value (options, executor params): the full validation checks it
                if part not in model.model_fields:
                    where = f"{node}.{'.'.join(walked)}" if walked else f"node {node!r} ({profile.nodes[node].type})"
                    errors.append(f"--set {node}.{key}: {where} has no parameter {part!r}"
                                  f"{did_you_mean(part, model.model_fields)}")
                    break
                walked.append(part)
                sub, skip = model_in_annotation(model.model_fields[part].annotation)
                model = sub if skip == 0 else None
            model = node_class(profile.nodes[node].type).Params
    return errors


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
    """Construct the profile's nodes in one context (in-process graph) and bring each up (configure,
    activate) in profile order; every node's parameters are validated before the first node is built.
    If one fails, the nodes already up are shut down (actuators hold) before the error propagates."""
    overrides = with_engine_execution(profile, run_dir, overrides)
    validated = profile.validate_nodes(run_dir, overrides)
    nodes: dict[str, RuntimeNode] = {}
    try:
        for name, entry in profile.nodes.items():
            if only is not None and name not in only:
                continue
            handle = ctx.create_node(name, profile.node_params(name, run_dir, overrides.get(name)))
            nodes[name] = node = node_class(entry.type)(handle, validated[name])
            node.bring_up()
    except BaseException:
        close_graph(nodes, reraise=False)
        raise
    return nodes


def _pins_executor(params: dict[str, Any]) -> bool:
    return any(key == "executor" or key.startswith("executor.") for key in params)


def engine_of(profile: Profile, run_dir: Path, overrides: dict[str, dict[str, Any]] | None = None) -> str | None:
    """The engine directory the profile's inference node runs (after `overrides`); None for the scripted
    expert, for several inference nodes on different engines, or for parameters that do not validate (the
    full validation reports those)."""
    engines = set()
    for name, entry in profile.nodes.items():
        if entry.type != "inference":
            continue
        try:
            params = validate_params(entry.type, profile.node_params(name, run_dir, (overrides or {}).get(name)),
                                     profile.source, profile.base_dir)
        except ConfigError:
            return None
        policy = params.policy  # type: ignore[attr-defined]
        if policy.kind == "engine" and policy.engine_dir:
            engines.add(str(policy.engine_dir))
    return engines.pop() if len(engines) == 1 else None


def with_engine_execution(profile: Profile, run_dir: Path,
                          overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """`overrides` plus the engine manifest's recommended executor for every node with an `executor`
    parameter (arm, hand) that neither the profile nor `overrides` sets.

    How an engine's chunks are best stitched is measured per engine (`being-h0 bench strategies
    --write-manifest`) and recorded in its manifest's `execution` block, so a profile need not pin
    it; a profile's explicit choice always wins. The scripted expert and an engine without advice add
    nothing (the node's default applies). A manifest whose advice does not validate is a ConfigError.
    """
    out = {node: dict(params) for node, params in (overrides or {}).items()}
    engine_dir = engine_of(profile, run_dir, out)
    if engine_dir is None:
        return out
    from .policy.engine_format import read_manifest

    advice = read_manifest(engine_dir).execution
    if advice is None:
        return out
    advised = []
    for name, entry in profile.nodes.items():
        if ("executor" in node_class(entry.type).Params.model_fields and "executor" not in entry.params
                and not _pins_executor(out.get(name, {}))):
            out.setdefault(name, {})["executor"] = {"name": advice.recommended, "params": dict(advice.params)}
            advised.append(name)
    if advised:
        log.info("%s: executor %s %s, as %s/manifest.json recommends", ", ".join(advised), advice.recommended,
                 advice.params or "", engine_dir)
    return out


def close_graph(nodes: dict[str, RuntimeNode], reraise: bool = True) -> None:
    """Shut every node down in reverse profile order (actuators, started last, hold last)."""
    errors = []
    for node in reversed(list(nodes.values())):
        try:
            node.shutdown()
        except Exception as err:  # noqa: BLE001 - keep closing the others: actuators must reach their hold
            errors.append(err)
    if errors and reraise:
        raise errors[0]
