"""The `being-h0` parser tree: one parse of the command line, global options anywhere, help that teaches."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from being_h0_runtime.cli import build_parser, main
from being_h0_runtime.commands import COMMANDS
from being_h0_runtime.commands.tree import LazySubParsers, subparser_actions, walk

REPO = Path(__file__).resolve().parents[1]
TREE = [path for path, _ in walk(build_parser())]
LEAVES = [path for path, parser in walk(build_parser()) if path and not subparser_actions(parser)]


def _help(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)  # --help exits before anything runs
    return int(exit_.value.code or 0), out.getvalue()


def test_the_tree_holds_every_command_once() -> None:
    top = build_parser()
    names = [a.dest for a in subparser_actions(top)[0]._choices_actions]
    assert names == list(COMMANDS) and len(set(names)) == len(names)
    for path, parser in walk(top):
        for action in subparser_actions(parser):
            listed = [a.dest for a in action._choices_actions]
            assert len(listed) == len(set(listed)) == len(action._name_parser_map), (path, listed)
    assert {"bench run", "dataset import", "calibrate hand-eye", "convert tokenizer", "engine infer",
            "tokenizer decode"} <= {" ".join(p) for p in TREE}
    assert len(TREE) >= 40


def test_registering_a_name_twice_is_an_error() -> None:
    sub = argparse.ArgumentParser(prog="x").add_subparsers(action=LazySubParsers)
    sub.add_lazy("a", "first", lambda prog: argparse.ArgumentParser(prog=prog))
    with pytest.raises(ValueError, match="registered twice"):
        sub.add_lazy("a", "again", lambda prog: argparse.ArgumentParser(prog=prog))


@pytest.mark.parametrize("path", TREE, ids=lambda p: " ".join(p) or "being-h0")
def test_every_help_exits_0_and_shows_an_example_of_its_own(path: tuple[str, ...]) -> None:
    code, text = _help([*path, "--help"])
    prog = " ".join(("being-h0", *path))
    assert code == 0 and text.startswith(f"usage: {prog} ")
    assert any(line.strip().startswith(prog + " ") or line.strip() == prog for line in text.splitlines()[1:]), text


def _examples(text: str, prog: str) -> list[list[str]]:
    """The example command lines of `prog` in a help text: description columns, comments, && cut off."""
    out = []
    for line in re.sub(r"\s*\\\n\s*", " ", text).splitlines():  # a trailing backslash continues the line
        line = re.split(r" {2,}(?=[^-\s])| #|&&", line.strip())[0]  # two spaces before a word: a comment column
        if line.startswith(prog + " ") and "--help" not in line and "..." not in line:
            out.append(shlex.split(line)[1:])
    return out


@pytest.mark.parametrize("path", [p for p in TREE if p], ids=" ".join)
def test_every_example_in_a_help_parses(path: tuple[str, ...]) -> None:
    _, text = _help([*path, "--help"])
    examples = _examples(text, " ".join(("being-h0", *path)))
    for words in examples:
        args = build_parser().parse_args(words)
        assert callable(args.func), words


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_global_options_go_before_and_after_every_subcommand(path: tuple[str, ...]) -> None:
    prog = " ".join(("being-h0", *path))
    for argv in (["--log-level", "INFO", *path, "--help"], ["--log-level=INFO", *path, "--help"],
                 [*path, "--log-level", "DEBUG", "--help"]):
        code, text = _help(argv)
        assert code == 0 and text.startswith(f"usage: {prog} "), argv


def test_the_log_level_reaches_the_command_wherever_it_is_written() -> None:
    ap = build_parser
    assert ap().parse_args(["record", "--episodes", "5"]).log_level == "WARNING"
    args = ap().parse_args(["--log-level", "INFO", "record", "--episodes", "5"])
    assert (args.log_level, args.episodes) == ("INFO", 5)
    assert args.func.__module__ == "being_h0_runtime.recording.record_cli"
    assert ap().parse_args(["record", "--episodes", "5", "--log-level", "DEBUG"]).log_level == "DEBUG"
    assert ap().parse_args(["--log-level", "INFO", "dataset", "list", "x", "--log-level", "ERROR"]).log_level == "ERROR"
    args = ap().parse_args(["--log-level", "INFO", "bench", "report", "--results", "r.sqlite", "--out", "o"])
    assert args.log_level == "INFO" and args.out == Path("o")
    args = ap().parse_args(["--log-level", "INFO", "run", "--transport", "inproc", "-v"])
    assert (args.log_level, args.transport, args.verbose) == ("INFO", "inproc", True)


def test_usage_errors_exit_2_at_every_level() -> None:
    for argv in ([], ["nope"], ["--log-level", "INFO"], ["bench"], ["bench", "nope"], ["record", "--episodes", "x"],
                 ["--log-level", "INFO", "dataset", "list"], ["calibrate", "intrinsics", "--resolution", "640by480"]):
        code, _ = _help(argv)
        assert code == 2, argv


def test_a_state_that_starts_with_a_minus_sign_reaches_engine_infer() -> None:
    base = ["engine", "infer", "--engine", "e", "--image", "i.png", "--task", "t"]
    assert build_parser().parse_args([*base, "--state", "-0.1,0.2"]).state == "-0.1,0.2"
    assert build_parser().parse_args(["--log-level", "INFO", *base, "--state=-0.1,0.2"]).state == "-0.1,0.2"


def test_log_level_before_record_on_the_real_command_line(tmp_path: Path) -> None:
    """The issue's command line (`being-h0 --log-level INFO record ...`), through `python -m being_h0_runtime.cli`."""
    cmd = [sys.executable, "-m", "being_h0_runtime.cli", "--log-level", "INFO", "record"]
    res = subprocess.run([*cmd, "--help"], capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert res.returncode == 0 and "--episodes" in res.stdout, res.stderr
    res = subprocess.run([*cmd, "--episodes", "0", "--out", str(tmp_path / "rec")], capture_output=True, text=True,
                         cwd=REPO, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert res.returncode == 1 and "kept 0 of 0 episodes" in res.stdout, res.stderr  # nothing recorded: exit 1


def test_top_level_help_imports_none_of_the_heavy_libraries() -> None:
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "being_h0_runtime.cli", "--help"],
                         capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert res.returncode == 0 and "COMMAND" in res.stdout
    imported = {line.split("|")[-1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")}
    heavy = {m for m in imported if m.split(".")[0] in ("torch", "mujoco", "numpy", "pydantic", "cv2", "yaml")}
    assert not heavy, sorted(heavy)
    assert not any(m.startswith("being_h0_runtime.") and m.split(".")[1] not in ("cli", "commands", "interrupts")
                   for m in imported), sorted(m for m in imported if m.startswith("being_h0_runtime"))


def test_doctor_options_on_the_command_line_win_over_the_profile(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    rig = tmp_path / "rig_loopback.yaml"
    rig.write_text((REPO / "launch" / "rig.yaml").read_text().replace("ip: 172.16.0.2", "ip: 127.0.0.1"))
    assert main(["doctor", "--no-stream-test", "--profile", str(rig), "--arm-ip", "127.0.0.3", "--json"]) == 1
    out = capsys.readouterr().out
    assert "Franka FCI at 127.0.0.1:1337" in out  # what the profile names, said before contacting anything
    names = [check["name"] for check in json.loads(out[out.index("["):])]
    assert "arm 127.0.0.3" in names and "arm 127.0.0.1" not in names  # what was checked: the command line's
    assert any(n.startswith("dds") for n in names)  # the profile still fills what the command line left out
