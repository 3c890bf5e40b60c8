"""The `being-h0` command: help that teaches, delegated subcommands, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from being_h0_runtime.cli import main

REPO = Path(__file__).resolve().parent.parent


def test_top_level_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for word in ("run", "launch", "doctor", "bench", "dataset", "record", "e-stop"):
        assert word in out


def test_delegated_subcommands_take_their_own_flags(capsys):
    with pytest.raises(SystemExit) as e:
        main(["record", "--help"])
    assert e.value.code == 0
    assert "--episodes" in capsys.readouterr().out


def _loopback_rig_profile(tmp_path) -> str:
    """The shipped rig profile with the Franka moved to a loopback address nothing listens on."""
    text = (REPO / "launch" / "rig.yaml").read_text()
    assert "ip: 172.16.0.2" in text
    path = tmp_path / "rig_loopback.yaml"
    path.write_text(text.replace("ip: 172.16.0.2", "ip: 127.0.0.1"))
    return str(path)


def test_doctor_on_a_machine_without_hardware_fails_with_fixes(capsys, tmp_path):
    code = main(["doctor", "--profile", _loopback_rig_profile(tmp_path), "--no-stream-test"])
    out = capsys.readouterr().out
    assert code != 0
    assert "FAIL" in out and "FIX" in out
    # it says which address it contacts before contacting it, and checks the DDS interface
    assert out.index("Franka FCI at 127.0.0.1:1337") < out.index("FAIL")
    assert "dds interface" in out and "loopback only" in out


def test_doctor_without_a_profile_asks_for_one(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("BEING_H0_CONFIG", str(tmp_path / "none.yaml"))
    assert main(["doctor", "--no-stream-test"]) == 2
    err = capsys.readouterr().err
    assert "--profile rig" in err and "being-h0 config set profile" in err


def test_doctor_uses_the_profile_named_in_the_user_configuration(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("BEING_H0_CONFIG", str(tmp_path / "cfg" / "config.yaml"))
    profile = _loopback_rig_profile(tmp_path)
    assert main(["config", "set", "profile", profile]) == 0
    capsys.readouterr()
    code = main(["doctor", "--no-stream-test"])
    out = capsys.readouterr().out
    assert code != 0 and f"({profile})" in out and "will contact:" in out and "127.0.0.1:1337" in out


def test_doctor_fails_on_a_dds_interface_this_machine_lacks(capsys, tmp_path):
    text = (REPO / "launch" / "rig.yaml").read_text()
    path = tmp_path / "rig_nic.yaml"
    path.write_text(text.replace("ip: 172.16.0.2", "ip: 127.0.0.1").replace("interface: lo", "interface: enpNOPE9"))
    assert main(["doctor", "--profile", str(path), "--no-stream-test"]) != 0
    out = capsys.readouterr().out
    assert "dds enpNOPE9" in out and "no such interface" in out


def test_unknown_profile_is_one_clear_error(capsys):
    assert main(["run", "--profile", "nope", "--transport", "inproc"]) == 2
    assert "no launch profile named 'nope'" in capsys.readouterr().err


def test_bad_set_override_is_a_clear_error(capsys):
    assert main(["run", "--transport", "inproc", "--set", "armrate=3"]) == 2
    assert "NODE.PARAM=VALUE" in capsys.readouterr().err
