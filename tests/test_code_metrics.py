"""scripts/code_metrics.py finds what it claims on a small tree built here."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "code_metrics.py"


@pytest.fixture(scope="module")
def metrics():
    spec = importlib.util.spec_from_file_location("code_metrics", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["code_metrics"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    _write(tmp_path, "being_h0_runtime/__init__.py", "")
    _write(tmp_path, "being_h0_runtime/msgs/__init__.py", "from ..nodes import arm\n")
    _write(tmp_path, "being_h0_runtime/nodes/__init__.py", "")
    _write(tmp_path, "being_h0_runtime/nodes/arm.py", "from ..msgs import Header\n")
    _write(tmp_path, "being_h0_runtime/msgs/x.py", "")
    _write(
        tmp_path,
        "being_h0_runtime/policy/a.py",
        """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from .b import B
        def f():
            from being_h0_train import t
        """,
    )
    _write(tmp_path, "being_h0_runtime/policy/__init__.py", "")
    _write(tmp_path, "being_h0_runtime/policy/b.py", "def g():\n    from . import a\n")
    body = "\n".join(f"    x{i} = {i}" for i in range(70))
    _write(tmp_path, "being_h0_train/__init__.py", "")
    _write(tmp_path, "being_h0_train/t.py", f"class C:\n  def long(self):\n{body}\n")
    _write(tmp_path, "being_h0_train/u.py", "from being_h0_runtime.nodes import arm\n")
    return tmp_path


def test_cycles_by_kind(metrics, tree: Path) -> None:
    report = metrics.measure(tree, top=3, max_function_lines=60)
    eager = ["being_h0_runtime.msgs", "being_h0_runtime.nodes.arm"]
    lazy_pair = ["being_h0_runtime.policy.a", "being_h0_runtime.policy.b"]
    assert report["cycles_module_level"] == [eager]
    assert report["cycles_with_function_level"] == [eager]
    assert sorted(report["cycles_with_type_checking"]) == sorted([eager, lazy_pair])


def test_long_functions_and_violations(metrics, tree: Path) -> None:
    report = metrics.measure(tree, top=3, max_function_lines=60)
    assert [(f["name"], f["length"]) for f in report["long_functions"]] == [("C.long", 71)]
    rules = {(v["importer"], v["imported"]): v["rule"] for v in report["layer_violations"]}
    assert rules[("being_h0_runtime.msgs", "being_h0_runtime.nodes.arm")] == (
        "base layer imports nodes layer"
    )
    assert rules[("being_h0_runtime.policy.a", "being_h0_train.t")].startswith("runtime imports")
    assert rules[("being_h0_train.u", "being_h0_runtime.nodes.arm")].startswith("training imports")
    assert len(rules) == 3


def test_long_function_reason_comment(metrics, tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(70))
    why = "# Longer than 60 lines because it is a table."
    _write(tmp_path, "being_h0_train/__init__.py", "")
    _write(tmp_path, "being_h0_train/r.py", f'def told():\n    """Doc."""\n    {why}\n{body}\n\n'
                                              f"def untold():\n{body}\n    {why}\n")
    report = metrics.measure(tmp_path, top=3, max_function_lines=60)
    reasons = {f["name"]: f["reason"] for f in report["long_functions"]}
    assert reasons == {"told": why[2:], "untold": ""}  # a comment further down is not the reason


def test_json_output(metrics, tree: Path, capsys) -> None:
    assert metrics.main(["--root", str(tree), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == 11
