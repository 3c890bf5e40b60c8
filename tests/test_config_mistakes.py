"""Configuration mistakes are caught before anything starts, with the key path and a close match (issue 16, item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from being_h0_runtime.cli import main
from being_h0_runtime.config import ConfigError
from being_h0_runtime.launch import PROFILE_DIR, apply_overrides, load_profile


def profile_copy(tmp_path: Path, name: str, edit) -> Path:
    data = yaml.safe_load((PROFILE_DIR / f"{name}.yaml").read_text())
    edit(data)
    path = tmp_path / f"{name}_edited.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_typo_in_franka_options_names_the_key_and_the_real_one(tmp_path: Path) -> None:
    def typo(d):
        d["nodes"]["arm"]["params"]["options"]["ipp"] = d["nodes"]["arm"]["params"]["options"].pop("ip")

    profile = load_profile(str(profile_copy(tmp_path, "rig", typo)))
    with pytest.raises(ConfigError) as err:
        profile.validate_nodes(tmp_path)
    msg = str(err.value)
    assert "nodes.arm.params.options.ipp" in msg and "unknown key 'ipp' (did you mean 'ip'?)" in msg
    assert "options.ip': Field required" in msg  # and the real key is now missing


@pytest.mark.parametrize(("node", "key", "expect"), [
    ("hand", "baudrat", "did you mean 'baudrate'?"),  # InspireHandConfig
    ("camera", "seriall", "did you mean 'serial'?"),  # RealSenseConfig
])
def test_each_driver_kind_has_its_own_options_model(tmp_path: Path, node: str, key: str, expect: str) -> None:
    profile = load_profile(str(profile_copy(tmp_path, "rig", lambda d: d["nodes"][node]["params"]["options"]
                                            .__setitem__(key, 1))))
    with pytest.raises(ConfigError, match=rf"nodes\.{node}\.params\.options\.{key}': unknown key '{key}' \({expect}"):
        profile.validate_nodes(tmp_path)


def test_the_virtual_arm_takes_no_options(tmp_path: Path) -> None:
    profile = load_profile(str(profile_copy(tmp_path, "sim", lambda d: d["nodes"]["arm"]["params"]
                                            .__setitem__("options", {"ip": "172.16.0.2"}))))
    with pytest.raises(ConfigError, match=r"options\.ip': unknown key 'ip' \(this block takes no keys\)"):
        profile.validate_nodes(tmp_path)


def test_validated_options_are_the_driver_config() -> None:
    from being_h0_runtime.drivers.arm.franka_config import FrankaConfig

    params = load_profile("rig").validate_nodes(Path("/tmp/run"))["arm"]
    assert isinstance(params.options, FrankaConfig) and params.options.ip == "172.16.0.2"


def test_nested_typo_anywhere_gets_a_suggestion(tmp_path: Path) -> None:
    profile = load_profile(str(profile_copy(tmp_path, "sim", lambda d: d["nodes"]["arm"]["params"]["safety"]
                                            .__setitem__("margns", {}))))
    with pytest.raises(ConfigError, match=r"safety\.margns': unknown key 'margns' \(did you mean 'margins'\?\)"):
        profile.validate_nodes(tmp_path)


@pytest.mark.parametrize(("item", "expect"), [
    ("arm.rate_hzz=200", "--set arm.rate_hzz: node 'arm' (arm) has no parameter 'rate_hzz' (did you mean 'rate_hz'?)"),
    ("armm.rate_hz=200", "--set armm.rate_hz: profile 'sim' has no node 'armm' (did you mean 'arm'?)"),
    ("arm.safety.margins.postion_rad=0.1",
     ("--set arm.safety.margins.postion_rad: arm.safety.margins has no parameter 'postion_rad' "
      "(did you mean 'position_rad'?)")),
    ("arm.options={\"ipp\": \"x\"}", "nodes.arm.params.options.ipp': unknown key 'ipp'"),
    ("arm.rate_hz=-5", "nodes.arm.params.rate_hz': Input should be greater than 0"),
])
def test_bad_set_is_an_error_before_any_process_starts(tmp_path: Path, capsys, item: str, expect: str) -> None:
    run_dir = tmp_path / "run"
    assert main(["launch", "sim", "--run-dir", str(run_dir), "--set", item]) == 2
    assert expect in capsys.readouterr().err
    node_logs = [p for p in run_dir.glob("*.log") if p.stem in load_profile("sim").nodes]
    assert not node_logs, "a node process was started"


def test_dotted_set_changes_one_nested_value_and_keeps_its_siblings() -> None:
    params = {"safety": {"margins": {"position_rad": 0.05, "velocity_scale": 0.3}}, "rate_hz": 100}
    out = apply_overrides(params, {"safety.margins.position_rad": 0.1, "rate_hz": 50})
    assert out == {"safety": {"margins": {"position_rad": 0.1, "velocity_scale": 0.3}}, "rate_hz": 50}
    assert params["safety"]["margins"]["position_rad"] == 0.05  # the profile's own dict is untouched
    validated = load_profile("sim").validate_nodes(Path("/tmp/run"), {"arm": {"safety.margins.position_rad": 0.1}})
    assert validated["arm"].safety.margins.position_rad == 0.1


@pytest.mark.parametrize("argv", [
    ["--log-level", "INFO", "record", "--episodes", "5", "--help"],
    ["record", "--episodes", "5", "--help", "--log-level", "INFO"],
    ["--log-level=DEBUG", "dataset", "--help"],
    ["--log-level", "INFO", "calibrate", "check", "--help"],
    ["--log-level", "INFO", "bench", "report", "--help"],
])
def test_global_options_before_or_after_any_subcommand(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0, capsys.readouterr().err


def test_global_log_level_reaches_a_delegated_command(tmp_path: Path, capsys) -> None:
    # a real delegated command, not just its help: `dataset list` over an empty folder
    assert main(["--log-level", "INFO", "dataset", "list", str(tmp_path)]) in (0, 1)
    assert "unrecognized arguments" not in capsys.readouterr().err
