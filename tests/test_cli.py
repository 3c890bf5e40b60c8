"""The `being-h0` command: help that teaches, delegated subcommands, clear errors."""

from __future__ import annotations

import pytest

from being_h0_runtime.cli import main


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


def test_doctor_on_a_machine_without_hardware_fails_with_fixes(capsys):
    code = main(["doctor", "--profile", "rig", "--no-stream-test"])
    out = capsys.readouterr().out
    assert code != 0
    assert "FAIL" in out and "FIX" in out


def test_unknown_profile_is_one_clear_error(capsys):
    assert main(["run", "--profile", "nope", "--transport", "inproc"]) == 2
    assert "no launch profile named 'nope'" in capsys.readouterr().err


def test_bad_set_override_is_a_clear_error(capsys):
    assert main(["run", "--transport", "inproc", "--set", "armrate=3"]) == 2
    assert "NODE.PARAM=VALUE" in capsys.readouterr().err
