"""Bench reports a person can act on: why a trial failed, its frames, how to rerun it, strategy tables."""

from __future__ import annotations

import os
import shlex
import sqlite3
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from being_h0_runtime.bench import report, runner
from being_h0_runtime.bench.outcome import explain
from being_h0_runtime.bench.tasks import load_task

EXPERT = runner.resolve_engine("expert")
V1_SCHEMA = """
CREATE TABLE trials (
    id INTEGER PRIMARY KEY AUTOINCREMENT, engine_id TEXT NOT NULL, engine_sha256 TEXT NOT NULL,
    engine_path TEXT NOT NULL, profile TEXT NOT NULL, task TEXT NOT NULL, variation TEXT NOT NULL,
    trial_index INTEGER NOT NULL, seed INTEGER NOT NULL, instruction TEXT NOT NULL, state TEXT NOT NULL,
    success INTEGER NOT NULL, judge TEXT NOT NULL, message TEXT NOT NULL, sim_seconds REAL NOT NULL,
    duration_s REAL NOT NULL, interventions INTEGER NOT NULL, safety_events INTEGER NOT NULL,
    safety_json TEXT NOT NULL, recording TEXT NOT NULL, frames TEXT NOT NULL, started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL, UNIQUE (engine_id, engine_sha256, profile, task, variation, seed)
);
"""


def test_a_failed_trial_says_where_and_why_shows_frames_and_its_command_reproduces_it(tmp_path: Path) -> None:
    # a deliberately short time limit: the expert reaches the toy after ~3 s, so it times out approaching
    task = load_task("pick_place_toy")
    r = runner.run_trial("sim", task, "seen", 1, 1, EXPERT, tmp_path / "out", tmp_path, time_limit_s=2.0)
    assert r.state == "timeout" and not r.success
    assert r.failure_phase == "approach"
    assert r.failure_reason.startswith("never reached the toy: the hand came no closer than ")
    assert "time limit 2 s reached" in r.failure_reason
    strip = tmp_path / r.frames
    assert strip.is_file()
    from PIL import Image

    with Image.open(strip) as im:
        assert im.width >= 2 * 160  # first and last frame at least, side by side
    argv = shlex.split(r.command)
    assert argv[:3] == ["being-h0", "bench", "run"] and "--trial" in argv and "--time-limit" in argv
    argv[argv.index("--results") + 1] = str(tmp_path / "repro" / "r.sqlite")
    argv[argv.index("--out") + 1] = str(tmp_path / "repro")
    assert runner.main(argv[3:] + ["--no-progress", "--frames", "0"]) == 0
    (again,) = runner.load_results(tmp_path / "repro" / "r.sqlite")
    assert (again["seed"], again["trial_index"], again["instruction"]) == (1, 1, r.instruction)
    assert (again["state"], again["message"], again["failure_reason"]) == (r.state, r.message, r.failure_reason)


@pytest.mark.parametrize(("state", "message", "safety_events", "phase", "start"), [
    ("timeout", "time limit 60 s reached while held by e-stop from console:op: operator key", 0, "timeout",
     "safety hold during timeout: time limit 60 s reached while held by e-stop from console:op"),
    ("aborted", "stopped by operator ana", 0, "aborted", "aborted during aborted: stopped by operator ana"),
    ("failed", "arm did not reach home within the homing time limit", 0, "homing", "never started: arm did not"),
    ("timeout", "time limit 60 s reached", 2, "timeout", "safety hold during timeout: arm: joint 3 velocity"),
    ("succeeded", "success judged from simulator state", 0, "", ""),
])
def test_reasons_without_simulator_state(state, message, safety_events, phase, start) -> None:
    safety = {"arm": {"faults": {}, "safety_holds": ["supervisor: joint 3 velocity"]}} if safety_events else {}
    safety = {"arm": {"faults": {"driver": "joint 3 velocity"}, "safety_holds": []}} if safety_events else safety
    got_phase, reason = explain(state, message, None, safety_events, safety)
    assert got_phase == phase and reason.startswith(start), reason


def _row(i: int, strategy: str, success: bool, **kw) -> runner.TrialResult:
    base = dict(engine_id="engine-aa952fe5487d", engine_sha256="cd" * 32, engine_path="models/being-h0-sim-small",
                profile="sim", task="pick_place_toy", variation="seen", trial_index=i, seed=i, instruction="x",
                state="succeeded" if success else "timeout", success=success, judge="simulator", message="m",
                sim_seconds=10.0, duration_s=1.0, interventions=0, safety_events=0, engine_name="being-h0-sim-small",
                strategy=strategy, failure_phase="" if success else "grasp",
                failure_reason="" if success else "missed grasp: the hand reached the toy",
                command=f"being-h0 bench run --trial {i}")
    base.update(kw)
    return runner.TrialResult(**base)


def test_strategies_are_kept_apart_and_compared_with_fisher(tmp_path: Path) -> None:
    results = tmp_path / "r.sqlite"
    with runner.ResultsDB(results) as db:
        for i in range(4):
            assert db.record(_row(i, "ensemble", True))
            assert db.record(_row(i, "async", False))  # same seed, other strategy: its own trial
        assert not db.record(_row(0, "async", False))
    out = tmp_path / "report"
    assert report.main(["--results", str(results), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    # Fisher exact, two-sided, [[0, 4], [4, 0]]: p = 2 / C(8, 4) = 0.0286
    assert ("| sim | pick_place_toy | seen | being-h0-sim-small@cdcdcdcd | async | ensemble | 0/4 | 4/4 | -100 pts "
            "| 0.0286 |") in md
    assert "| being-h0-sim-small@cdcdcdcd | async | sim | pick_place_toy | seen | 0/4 | 0% |" in md
    assert "grasp 4" in md
    assert md.count("- **reproduce:** `being-h0 bench run --trial") == 4
    page = (out / "report.html").read_text()
    assert page.count("<div class='failure'") == 4 and "Strategy vs strategy" in page


def test_results_from_before_strategies_are_migrated_in_place(tmp_path: Path) -> None:
    results = tmp_path / "old.sqlite"
    conn = sqlite3.connect(results)
    conn.executescript(V1_SCHEMA)
    conn.execute("INSERT INTO trials (engine_id, engine_sha256, engine_path, profile, task, variation, trial_index, "
                 "seed, instruction, state, success, judge, message, sim_seconds, duration_s, interventions, "
                 "safety_events, safety_json, recording, frames, started_at, finished_at) VALUES "
                 "('e', 'ab', 'p', 'sim', 'pick_place_toy', 'seen', 0, 0, 'x', 'timeout', 0, 'simulator', 'm', 1.0, "
                 "1.0, 0, 0, '{}', '', '', 'a', 'b')")
    conn.commit()
    conn.close()
    (row,) = runner.load_results(results)
    assert (row["seed"], row["state"], row["strategy"], row["failure_reason"], row["events"]) == \
        (0, "timeout", "", "", [])
    with runner.ResultsDB(results) as db:
        assert db.record(_row(0, "sync", True, engine_id="e", engine_sha256="ab"))  # the key now has the strategy


def test_the_plot_grows_with_its_bars(tmp_path: Path) -> None:
    from PIL import Image

    rows_small = [_row(0, "ensemble", True)]
    rows_big = [_row(i, s, i % 2 == 0, variation=v)
                for i in range(2) for s in ("sync", "async", "ensemble") for v in ("seen", "unseen", "clutter")]
    sizes = []
    for name, rows in (("small", rows_small), ("big", rows_big)):
        results = tmp_path / f"{name}.sqlite"
        with runner.ResultsDB(results) as db:
            for r in rows:
                db.record(r)
        paths = report.write_report(results, tmp_path / name)
        with Image.open(paths["plot"]) as im:
            sizes.append(im.size)
    (w_small, h_small), (w_big, _) = sizes
    assert w_small < 700 and h_small < 500, "one bar: a small figure"
    assert w_big > 1.3 * w_small, "four groups of three bars get the room they need"
