"""What `make` installs (issue 16, item 1): the system-package script's decisions and the lock file.

The end-to-end proof from a clean clone (ldconfig before/after, venv == lock, MuJoCo renders) is
scripts/check_fresh_clone.sh: minutes and a full install, so it is not part of the suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+, as the lock is

REPO = Path(__file__).resolve().parents[1]
DEPS = REPO / "scripts" / "system_deps.sh"


def deps(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(DEPS), *args], capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, **env})


def listed_packages() -> list[str]:
    return [line.split()[0] for line in deps("--list").stdout.splitlines()]


def test_lists_every_package_with_its_reason() -> None:
    pkgs = listed_packages()
    for pkg in ("libusb-1.0-0", "libosmesa6", "libegl-mesa0", "libgl1-mesa-dri", "libglib2.0-0", "procps"):
        assert pkg in pkgs


def test_installs_exactly_what_is_missing_and_updates_apt_only_then() -> None:
    really_missing = deps("--missing").stdout.split()
    fake = ["libusb-1.0-0", "procps"]
    res = deps(SYSTEM_DEPS_FAKE_MISSING=" ".join(fake), SYSTEM_DEPS_DRY_RUN="1")
    want = [p for p in listed_packages() if p in set(fake) | set(really_missing)]  # in the script's order
    if os.geteuid() != 0:
        assert res.returncode == 1 and " ".join(want) in res.stderr
        return
    assert res.returncode == 0, res.stderr
    commands = [line for line in res.stdout.splitlines() if line.startswith("would run:")]
    assert commands == ["would run: apt-get update -qq",
                        f"would run: apt-get install -y -qq --no-install-recommends {' '.join(want)}"]


@pytest.mark.skipif(bool(deps("--missing").stdout.strip()), reason="this machine lacks some packages")
def test_nothing_missing_means_nothing_done() -> None:
    res = deps(SYSTEM_DEPS_DRY_RUN="1")
    assert res.returncode == 0 and res.stdout == "" and res.stderr == ""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to another user")
def test_without_root_it_stops_with_the_exact_command() -> None:
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(DEPS)],
                         capture_output=True, text=True, timeout=60, check=False,
                         env={**os.environ, "SYSTEM_DEPS_FAKE_MISSING": "procps"})
    assert res.returncode == 1
    assert "sudo apt-get update && sudo apt-get install -y --no-install-recommends procps" in res.stderr


def test_lock_pins_every_dependency_exactly_and_no_cuda() -> None:
    lines = [ln.strip() for ln in (REPO / "requirements-lock.txt").read_text().splitlines()]
    pins = dict(ln.split("==", 1) for ln in lines if ln and not ln.startswith("#"))
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", v) for v in pins.values()), "every line NAME==VERSION"
    norm = {re.sub(r"[-_.]+", "-", n).lower(): v for n, v in pins.items()}
    assert norm["torch"] == "2.13.0"
    assert not [n for n in norm if n.startswith(("nvidia-", "triton"))]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = re.search(r"^EXTRAS := (\S+)", (REPO / "Makefile").read_text(), re.MULTILINE).group(1).split(",")
    wanted = project["dependencies"] + [d for e in extras for d in project["optional-dependencies"][e]]
    names = {re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0]).lower() for d in wanted}
    assert not names - set(norm), f"in pyproject.toml but not in the lock (run `make lock`): {names - set(norm)}"
