"""The repository passes its lint (pyproject.toml [tool.ruff]: pyflakes and syntax errors), so `make test` catches
an undefined name or a stale import before a rig does."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _ruff() -> str:
    beside_python = Path(sys.executable).with_name("ruff")  # the dev extra installs it into the venv
    found = str(beside_python) if beside_python.exists() else shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    return found


def test_repository_passes_ruff() -> None:
    proc = subprocess.run([_ruff(), "check", "--no-cache", "--output-format", "concise", str(REPO)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"ruff found problems (fix them or `ruff check --fix`):\n{proc.stdout}{proc.stderr}"


def test_lint_catches_an_undefined_name(tmp_path: Path) -> None:
    """The configuration is live: a module with an undefined name fails it."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    return undefined_name\n")
    proc = subprocess.run([_ruff(), "check", "--no-cache", "--config", str(REPO / "pyproject.toml"), str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "F821" in proc.stdout, proc.stdout + proc.stderr
