"""Launch profiles and parameter files: valid ones load, bad ones fail with one clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from being_h0_runtime.config import ConfigError
from being_h0_runtime.launch import PROFILE_DIR, load_profile
from being_h0_runtime.nodes.base import build_node, node_class
from being_h0_runtime.transport.inproc import InprocContext


@pytest.mark.parametrize("path", sorted(PROFILE_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_profiles_validate_including_node_params(path: Path) -> None:
    profile = load_profile(str(path))
    for name, entry in profile.nodes.items():
        params = profile.resolved_params(name, Path("run"))
        node_class(entry.type).Params.model_validate(params)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    return p


def test_unknown_node_type_names_file_field_and_allowed(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\nnodes:\n  a: {type: armm}\n")
    with pytest.raises(ConfigError) as e:
        load_profile(str(p))
    msg = str(e.value)
    assert str(p) in msg and "nodes.a.type" in msg and "armm" in msg and "arm" in msg


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\nnodes: [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:.*line \d+"):
        load_profile(str(p))


def test_typo_in_profile_key_is_an_error(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\nuse_sim_tme: true\nnodes:\n  t: {type: task}\n")
    with pytest.raises(ConfigError, match="use_sim_tme"):
        load_profile(str(p))


def test_bad_node_parameter_names_node_and_field() -> None:
    ctx = InprocContext()
    with pytest.raises(ConfigError) as e:
        build_node("task", ctx.create_node("task"), {"time_limit_s": -3}, "launch/x.yaml: nodes.task.params")
    assert "nodes.task.params" in str(e.value) and "time_limit_s" in str(e.value)


def test_unknown_variable_in_profile(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\nnodes:\n  t: {type: task, params: {task_id: '${nope}'}}\n")
    profile = load_profile(str(p))
    with pytest.raises(ConfigError, match="nope"):
        profile.resolved_params("t", tmp_path)


def test_missing_profile_lists_known() -> None:
    with pytest.raises(ConfigError, match="sim"):
        load_profile("no_such_profile")
