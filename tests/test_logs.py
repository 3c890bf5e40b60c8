"""Logs: the level reaches every node process, and every run leaves log files beside its outputs."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import sim_domain

from being_h0_runtime.logs import (
    RUN_LOG_NAME,
    add_run_log,
    configure,
    parse_level,
    verbose_level,
)

PROFILE = """\
name: logtest
rig: virtual
nodes:
  task:
    type: task
    params: {task_id: pick_place_toy, success_source: operator}
"""


def _wait_for(path: Path, text: str, timeout: float = 60.0) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        content = path.read_text(errors="replace") if path.exists() else ""
        if text in content:
            return content
        time.sleep(0.2)
    pytest.fail(f"{path} never contained {text!r}; it has:\n{content}")


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    """The root logger, its handlers and level put back after the test (the project's own handlers closed)."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield root
    for h in root.handlers[:]:
        if getattr(h, "_being_h0", False):
            root.removeHandler(h)
            h.close()
    root.handlers[:], root.level = saved[0], saved[1]


def test_levels_parse_case_insensitively_and_bad_ones_name_the_choices() -> None:
    assert parse_level("info") == parse_level("INFO") == logging.INFO == parse_level("20")
    with pytest.raises(ValueError, match="DEBUG, INFO, WARNING"):
        parse_level("chatty")
    assert verbose_level("WARNING", True) == "INFO" and verbose_level("DEBUG", True) == "DEBUG"
    assert verbose_level("warning", False) == "WARNING"


def test_run_log_gets_info_while_the_terminal_keeps_its_level(tmp_path: Path, capsys, root_logging) -> None:
    root = root_logging
    configure("WARNING")
    path = add_run_log(tmp_path)
    log = logging.getLogger("being_h0.test")
    log.info("graph up after 1.0 s")
    log.warning("hand link slow")
    for h in root.handlers:
        h.flush()
    text = (tmp_path / RUN_LOG_NAME).read_text()
    assert path == tmp_path / RUN_LOG_NAME
    assert "graph up" in text and "hand link slow" in text
    err = capsys.readouterr().err
    assert "hand link slow" in err and "graph up" not in err


def test_launcher_passes_the_level_and_each_node_writes_its_log(tmp_path: Path) -> None:
    """Terminal level WARNING: the node's log file still has its INFO lines; DEBUG reaches it when asked."""
    from being_h0_runtime.launch import load_profile
    from being_h0_runtime.launcher import GraphLauncher

    yaml = tmp_path / "logtest.yaml"
    yaml.write_text(PROFILE)
    profile = load_profile(str(yaml))
    for level, run in (("WARNING", "quiet"), ("DEBUG", "debug")):
        run_dir = tmp_path / run
        launcher = GraphLauncher(profile, run_dir, domain_id=sim_domain(53), log_level=level)
        try:
            launcher.start(stream_logs=False)
            text = _wait_for(run_dir / "task.log", "task (task) up")
        finally:
            launcher.shutdown()
        assert "INFO" in text
        cmd = next(c.proc.args for c in launcher.children)
        assert cmd[cmd.index("--log-level") + 1] == level


def test_node_main_rejects_an_unknown_level(tmp_path: Path) -> None:
    yaml = tmp_path / "logtest.yaml"
    yaml.write_text(PROFILE)
    res = subprocess.run([sys.executable, "-m", "being_h0_runtime.node_main", "--profile", str(yaml), "--node", "task",
                          "--run-dir", str(tmp_path), "--log-level", "chatty"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 2 and "unknown log level 'chatty'" in res.stderr


def test_spawned_workers_log_like_their_parent(tmp_path: Path, root_logging) -> None:
    import multiprocessing as mp

    from being_h0_runtime.logs import for_workers, init_worker

    configure("ERROR")
    add_run_log(tmp_path)
    term, run_log = for_workers()
    assert term == logging.ERROR and run_log == str(tmp_path / RUN_LOG_NAME)
    with mp.get_context("spawn").Pool(1, initializer=init_worker, initargs=(term, run_log)) as pool:
        pool.apply(_worker_says, ("episode 3 recorded",))
    assert "episode 3 recorded" in (tmp_path / RUN_LOG_NAME).read_text()


def _worker_says(text: str) -> None:
    logging.getLogger("being_h0.worker").info(text)
    for h in logging.getLogger().handlers:
        h.flush()
