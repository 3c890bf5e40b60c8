"""No command writes into the repository by accident; paths in profiles resolve against the profile
(issue 16, item 9)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from being_h0_runtime.calibration import cli as calibrate
from being_h0_runtime.commands.doctor import doctor_args_from_profile
from being_h0_runtime.launch import PROFILE_DIR, load_profile
from being_h0_runtime.paths import SHIPPED_DIR, user_data_dir

REPO = Path(__file__).resolve().parents[1]
SHIPPED_CAL = REPO / "calibration" / "virtual"


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("BEING_H0_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "being-h0"


def test_user_data_dir_follows_xdg_and_the_override(data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert user_data_dir("recordings") == data_home / "recordings"
    monkeypatch.setenv("BEING_H0_DATA_DIR", "/srv/rig-data")
    assert user_data_dir("calibration", "virtual") == Path("/srv/rig-data/calibration/virtual")
    assert SHIPPED_DIR == REPO


def test_sim_hand_eye_from_the_repo_root_leaves_the_shipped_calibration_alone(
        data_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    before = digest(SHIPPED_CAL)
    monkeypatch.chdir(REPO)
    assert calibrate.main(["hand-eye", "--sim", "--views", "6"]) == 0
    out = capsys.readouterr().out
    written = data_home / "calibration" / "virtual" / "hand_eye.yaml"
    assert f"wrote {written}" in out and written.exists()
    assert digest(SHIPPED_CAL) == before, "calibration/virtual was rewritten"


def test_hand_range_writes_to_explicit_out(tmp_path: Path, data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = digest(SHIPPED_CAL)
    monkeypatch.chdir(REPO)
    assert calibrate.main(["hand-range", "--sim", "--yes", "--out", str(tmp_path / "mine")]) == 0
    assert (tmp_path / "mine" / "hand_ranges.yaml").exists()
    assert not data_home.exists()  # --out wins over the data folder
    assert digest(SHIPPED_CAL) == before


def test_check_reads_the_shipped_folder_from_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no calibration/ here
    assert calibrate.main(["check", "--needs", "hand_eye", "hand_ranges", "intrinsics", "--max-age-days", "1e6"]) == 0


def test_relative_paths_in_a_profile_resolve_against_the_profile_file(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load((PROFILE_DIR / "sim.yaml").read_text())
    data["nodes"]["hand"]["params"]["calibration_dir"] = "cal/hand"
    data["nodes"]["inference"]["params"]["policy"]["engine_dir"] = "engines/small"
    data["nodes"]["recorder"] = {"type": "recorder", "params": {"output_dir": "recordings"}}
    folder = tmp_path / "rigs" / "lab2"
    folder.mkdir(parents=True)
    (folder / "engines" / "small").mkdir(parents=True)  # validation checks the engine folder exists
    (folder / "engines" / "small" / "manifest.json").write_text("{}")
    path = folder / "lab2.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)  # a different working directory: it must not matter
    params = load_profile(str(path.relative_to(tmp_path))).validate_nodes(tmp_path / "run")
    assert params["hand"].calibration_dir == str(folder / "cal" / "hand")
    assert params["inference"].policy.engine_dir == str(folder / "engines" / "small")
    assert params["recorder"].output_dir == folder / "recordings"
    # ${repo_dir} and absolute paths stay what they say
    assert params["virtual_rig"].hand_calibration_dir == str(REPO / "calibration" / "virtual")


def test_shipped_rig_profile_finds_its_calibration_from_anywhere(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    profile = load_profile("rig")
    params = profile.validate_nodes(tmp_path / "run")
    assert Path(params["hand"].calibration_dir).resolve() == REPO / "calibration" / "rig"
    assert Path(params["inference"].policy.engine_dir).resolve() == REPO / "models" / "being-h0-sim-small"
    args = doctor_args_from_profile(profile)
    assert Path(args[args.index("--calibration-dir") + 1]).resolve() == REPO / "calibration" / "rig"


def test_engine_on_the_command_line_is_relative_to_the_working_directory(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from being_h0_runtime.commands.policy_args import (
        overrides_for_policy as _overrides_for_policy,
    )

    monkeypatch.chdir(tmp_path)
    over = _overrides_for_policy(argparse.Namespace(engine="my_engine", backend="auto", set=None))
    assert over["inference"]["policy"]["engine_dir"] == str(tmp_path / "my_engine")


def test_a_missing_engine_folder_fails_profile_validation_before_any_process(tmp_path: Path) -> None:
    from being_h0_runtime.config import ConfigError

    profile = load_profile("sim")
    over = {"inference": {"policy": {"kind": "engine", "engine_dir": str(tmp_path / "nope")}}}
    with pytest.raises(ConfigError, match="nodes.inference.params.policy.*engine directory not found"):
        profile.validate_nodes(tmp_path / "run", over)
    (tmp_path / "empty").mkdir()
    over["inference"]["policy"]["engine_dir"] = str(tmp_path / "empty")
    with pytest.raises(ConfigError, match="no manifest.json"):
        profile.validate_nodes(tmp_path / "run", over)
