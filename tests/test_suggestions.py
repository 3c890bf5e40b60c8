"""Every command and configuration key a message suggests exists.

Scans the string literals of being_h0_runtime/ and being_h0_train/ (f-strings included, their
placeholders shown as ``{}``) for suggested commands -- `being-h0 ...` in backticks, at the start of a
line (usage, examples, epilogs) or after ``usage:`` / ``example:`` / ``report:`` / ``then:``; also in
README, docs, launch profiles and calibration notes -- and checks that each
one's subcommand path prints its help through the real CLI (exit 0) and that every ``--option`` it
names appears in that help.  A command whose subcommand is a placeholder cannot be checked and fails
(spell it out: see calibration/schema.py CALIBRATE_COMMANDS).

Keys: every ``nodes.<node>.params.<...>`` path and every ``set <dotted.key>`` in a message must
resolve in the shipped launch profiles' schema (profile fields, node parameter models, driver options).
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "being_h0_runtime").rglob("*.py")) + sorted((ROOT / "being_h0_train").rglob("*.py"))

#: a suggested command: after a backtick, a line start, or one of these lead-ins
_LEAD = r"(?:`|^[ \t]*|(?:usage|example|examples|report|then):[ \t]*)"
_COMMAND = re.compile(_LEAD + r"(?:\.venv/bin/)?being-h0((?: [^\s`#(]+)*)", re.MULTILINE)
#: documents whose commands a user copies: README, docs, launch profiles' comments, calibration notes
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "launch").glob("*.yaml")),
             *sorted((ROOT / "calibration").rglob("*.md")), *sorted((ROOT / "models").glob("*/README.md"))]
_WORD = re.compile(r"[a-z][a-z0-9_-]*")
_OPTION = re.compile(r"^--?[a-z][a-z0-9-]*")


def _strings(path: Path):
    """(line, text) of every string literal in `path`; f-string placeholders become '{}'."""
    tree = ast.parse(path.read_text(), str(path))
    inside_fstring = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inside_fstring:
            yield node.lineno, node.value


def _texts():
    """(path, line, text): the string literals of the sources, then the documents line by line."""
    for path in SOURCES:
        for line, text in _strings(path):
            yield path, line, text
    for path in DOCUMENTS:
        for line, text in enumerate(path.read_text().splitlines(), start=1):
            yield path, line, text.lstrip("# ")  # YAML comments: "# ... then: being-h0 doctor --profile rig"


def suggested_commands() -> list[tuple[str, list[str], list[str]]]:
    """(where, subcommand words, --options) for every suggested `being-h0 ...` command."""
    out = []
    for path, line, text in _texts():
        if True:
            # in a usage line, two or more spaces before a word start a description column, not arguments
            text = "\n".join(re.sub(r"(?<=\S) {2,}", " ", re.sub(r"(?<=\S) {2,}(?=[^-\s]).*", "", ln))
                             for ln in text.splitlines())
            for m in _COMMAND.finditer(text):
                tokens = m.group(1).split()
                words: list[str] = []
                for tok in tokens:
                    if not _WORD.fullmatch(tok):
                        break
                    words.append(tok)
                rest = tokens[len(words):]
                where = f"{path.relative_to(ROOT)}:{line}: being-h0{m.group(1)}"
                if rest and rest[0].startswith("{"):
                    words.append(rest[0])  # a placeholder where a subcommand goes: reported below
                options = [o.group(0) for t in rest if (o := _OPTION.match(t))]
                if words:
                    out.append((where, words, options))
    return out


def _help(words: list[str]) -> tuple[int, str]:
    from being_h0_runtime import cli

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf), pytest.raises(SystemExit) as exit_:
        cli.build_parser().parse_args([*words, "--help"])  # one parser tree; parse only: never runs the command
        raise AssertionError(f"`being-h0 {' '.join(words)} --help` did not print help")
    return int(exit_.value.code or 0), buf.getvalue()


def test_the_scan_finds_the_suggestions_we_know_of() -> None:
    found = {" ".join(w) for _, w, _ in suggested_commands()}
    assert {"calibrate hand-range", "dataset recover", "doctor", "config set profile rig", "bench run",
            "bench report"} <= found, sorted(found)


def test_every_suggested_command_exists() -> None:
    problems = []
    checked: dict[str, tuple[int, str]] = {}
    for where, words, options in suggested_commands():
        if any(w.startswith("{") for w in words):
            problems.append(f"{where}: the subcommand is computed; spell the command out so it can be checked")
            continue
        key = " ".join(words)
        if key not in checked:
            checked[key] = _help(words)
        code, text = checked[key]
        if code != 0:
            problems.append(f"{where}: `being-h0 {key} --help` exits {code}: {text.strip().splitlines()[-1:]}")
            continue
        missing = [o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text)]
        if missing:
            problems.append(f"{where}: {missing} not in `being-h0 {key} --help`")
    assert not problems, "\n".join(problems)
    assert len(checked) >= 15  # the scan really ran over the CLI's commands


def test_a_wrong_suggestion_is_caught() -> None:
    code, _ = _help(["calibrate", "hand-ranges"])
    assert code != 0
    code, text = _help(["calibrate", "hand-range"])
    assert code == 0 and "--port" in text


# --- configuration keys ------------------------------------------------------------------------------------

_NODE_KEY = re.compile(r"\bnodes\.[a-z_]+\.params(?:\.[a-z_]+)+")
_SET_KEY = re.compile(r"(?<![-\w])set ((?:[a-z_]+\.)+[a-z_]+)\b")


def suggested_keys() -> list[tuple[str, str]]:
    out = []
    for path in SOURCES:
        for line, text in _strings(path):
            for key in set(_NODE_KEY.findall(text)) | set(_SET_KEY.findall(text)):
                out.append((f"{path.relative_to(ROOT)}:{line}", key))
    return out


def _options_model(node_type: str, backend: str | None) -> type[BaseModel] | None:
    if node_type == "arm" and backend == "franka":
        from being_h0_runtime.drivers.arm.franka_config import FrankaConfig

        return FrankaConfig
    if node_type == "hand" and backend == "inspire":
        from being_h0_runtime.drivers.hand.inspire_config import InspireHandConfig

        return InspireHandConfig
    if node_type == "camera" and backend == "realsense":
        from being_h0_runtime.drivers.camera.realsense_config import RealSenseConfig

        return RealSenseConfig
    return None


def _walk(model: Any, parts: list[str], where: str) -> str | None:
    """None if `parts` is a field path in pydantic `model`, else what is wrong."""
    for i, part in enumerate(parts):
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return f"{'.'.join(parts[:i + 1])!r} is not a field of {getattr(model, '__name__', model)} ({where})"
        ann = fields[part].annotation
        candidates = [ann, *get_args(ann)] if get_origin(ann) is not None else [ann]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None and i + 1 < len(parts):
            return f"{'.'.join(parts[:i + 1])!r} has no sub-keys ({where})"
    return None


def resolve_key(key: str) -> str | None:
    """None if `key` names a setting of a shipped launch profile, else why not."""
    from being_h0_runtime.launch import Profile, load_profile
    from being_h0_runtime.nodes.base import node_class

    parts = key.split(".")
    if parts[0] != "nodes":
        return _walk(Profile, parts, "launch profile")
    name, rest = parts[1], parts[3:]
    for profile in (load_profile("rig"), load_profile("sim")):
        entry = profile.nodes.get(name)
        if entry is None:
            continue
        if rest[0] == "options":
            model = _options_model(entry.type, entry.params.get("backend"))
            if model is not None:
                return _walk(model, rest[1:], f"{entry.type} options")
            continue
        return _walk(node_class(entry.type).Params, rest, f"{entry.type} node parameters")
    return f"no node {name!r} with such parameters in launch/rig.yaml or launch/sim.yaml"


def test_every_suggested_key_exists() -> None:
    keys = suggested_keys()
    assert any(k == "nodes.arm.params.options.realtime" for _, k in keys), "the scan found the franka fix"
    problems = [f"{where}: {key}: {why}" for where, key in keys if (why := resolve_key(key))]
    assert not problems, "\n".join(problems)


def test_a_wrong_key_is_caught() -> None:
    assert resolve_key("arm.realtime") is not None
    assert resolve_key("nodes.arm.params.realtime") is not None
    assert resolve_key("nodes.arm.params.options.realtime") is None
    assert resolve_key("dds.interface") is None
