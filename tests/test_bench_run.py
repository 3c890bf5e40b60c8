"""Success-rate trials on the virtual rig: resume after interruption, determinism, report.

One module-scoped sweep (3 trials of the scripted expert, interrupted in the
middle of the second trial and resumed) feeds several checks; the whole file
runs about 6 episodes (~3 s each).
"""

from __future__ import annotations

import os
import sqlite3

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from being_h0_runtime.bench import report, runner
from being_h0_runtime.bench.tasks import load_task

EXPERT = runner.resolve_engine("expert")


class Interrupt(KeyboardInterrupt):
    """What Ctrl-C raises, from inside a trial."""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench")
    results, out = d / "results.sqlite", d / "out"
    plan = runner.plan(["pick_place_toy:seen"], 3, base_seed=0)
    statuses: list[tuple[int, str]] = []

    def interrupt_second_trial(p, st):
        statuses.append((p.seed, st.state))
        if p.seed == 1 and st.state == "running":
            raise Interrupt()

    with pytest.raises(Interrupt):
        runner.run_sweep(plan, EXPERT, "sim", results, out, progress=False, on_status=interrupt_second_trial)
    after_interrupt = runner.load_results(results)
    summary = runner.run_sweep(plan, EXPERT, "sim", results, out, progress=False)
    return {"dir": d, "results": results, "out": out, "after_interrupt": after_interrupt, "summary": summary,
            "statuses": statuses}


def test_interrupted_trial_is_rerun_and_nothing_is_counted_twice(sweep):
    assert [r["seed"] for r in sweep["after_interrupt"]] == [0]  # trial 1 was in progress: not written
    assert (1, "running") in sweep["statuses"]
    s = sweep["summary"]
    assert (s.skipped, s.ran) == (1, 2)
    rows = runner.load_results(sweep["results"])
    assert [r["seed"] for r in rows] == [0, 1, 2]
    first = {k: v for k, v in sweep["after_interrupt"][0].items()}
    assert rows[0] == first  # the finished trial was not touched by the resume
    # a third run does nothing; the unique key refuses a duplicate even if someone inserts one
    again = runner.run_sweep(runner.plan(["pick_place_toy:seen"], 3, 0), EXPERT, "sim", sweep["results"],
                             sweep["out"], progress=False)
    assert (again.skipped, again.ran) == (3, 0)
    with runner.ResultsDB(sweep["results"]) as db:
        dup = runner.TrialResult(**{k: v for k, v in rows[0].items() if k in runner.TrialResult.__dataclass_fields__})
        assert db.record(dup) is False
    n = sqlite3.connect(sweep["results"]).execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    assert n == 3


def test_trial_rows_carry_identity_seed_outcome_and_safety(sweep):
    rows = runner.load_results(sweep["results"])
    for i, r in enumerate(rows):
        assert r["engine_id"] == "scripted-expert" and r["engine_sha256"] == "scripted-expert"
        assert (r["task"], r["variation"], r["trial_index"], r["seed"]) == ("pick_place_toy", "seen", i, i)
        assert r["state"] in ("succeeded", "timeout", "failed", "aborted")
        assert r["success"] == (r["state"] == "succeeded")
        # trial i is given instructions[i % len] of the task file (paraphrases are for training and bench language)
        assert r["judge"] == "simulator" and r["instruction"] == load_task("pick_place_toy").instruction_for(i)
        assert r["duration_s"] > 0 and r["sim_seconds"] > 0
        assert r["started_at"] < r["finished_at"]
        assert set(r["safety"]) == {"arm", "hand"} and "holds_by_reason" in r["safety"]["arm"]
        assert r["safety_events"] == 0 and r["interventions"] == 0  # the expert on a clean scene
        frames = sweep["results"].parent / r["frames"]
        assert frames.is_file() and frames.stat().st_size > 1000
    assert sum(r["success"] for r in rows) >= 2  # the expert is ~95% on seen


def test_same_seed_and_engine_give_the_same_outcome(sweep, tmp_path):
    task = load_task("pick_place_toy")
    rows = runner.load_results(sweep["results"])
    again = runner.run_trial("sim", task, "seen", 2, 2, EXPERT, tmp_path, tmp_path, frames=0)
    ref = rows[2]
    assert (again.state, again.success, again.message) == (ref["state"], ref["success"], ref["message"])
    assert again.sim_seconds == pytest.approx(ref["sim_seconds"], abs=1e-9)
    assert again.safety == ref["safety"]


def test_report_has_rates_intervals_plot_comparison_and_frame_strips(sweep):
    results = sweep["results"]
    # a second engine's trials (rows as `bench run` writes them) so the comparison has two sides
    rows = runner.load_results(results)
    with runner.ResultsDB(results) as db:
        for r in rows:
            fields = {k: v for k, v in r.items() if k in runner.TrialResult.__dataclass_fields__}
            fields.update(engine_id="engine-0123456789ab", engine_name="other", engine_sha256="ab" * 32,
                          engine_path="models/other", state="timeout", success=False, frames="", sim_seconds=9.0,
                          failure_phase="carry", failure_reason="still carrying the toy, 30 cm from the box")
            assert db.record(runner.TrialResult(**fields))
    out = sweep["dir"] / "report"
    assert report.main(["--results", str(results), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    k = sum(r["success"] for r in rows)
    assert f"| scripted-expert | async | sim | pick_place_toy | seen | {k}/3 |" in md
    # engines are named by directory name + manifest hash; Wilson 0/3 is 0%-56%
    assert "| other@abababab | async | sim | pick_place_toy | seen | 0/3 | 0% | 0%–56% | 9.0 | carry 3 |" in md
    assert "## Engine vs engine" in md
    assert f"| sim | pick_place_toy | seen | async | other@abababab | scripted-expert | 0/3 | {k}/3 |" in md
    png = (out / "success.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    page = (out / "report.html").read_text()
    assert page.count("class='strip'") == 3  # one strip per expert trial; the other engine has no frames
    for src in [s.split("'")[0] for s in page.split("class='strip' src='")[1:]]:
        assert (out / src).is_file()


def test_report_of_missing_results_is_a_clear_error(tmp_path, capsys):
    assert report.main(["--results", str(tmp_path / "none.sqlite"), "--out", str(tmp_path)]) == 2
    assert "results file not found" in capsys.readouterr().err


def test_cli_runs_and_resumes(tmp_path, capsys):
    """The command line end to end: one trial, then the same command again skips it."""
    args = ["--tasks", "pick_place_toy:unseen", "--engine", "expert", "--trials", "1", "--base-seed", "5",
            "--results", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "out"), "--no-progress", "--frames", "0"]
    assert runner.main(args) == 0
    assert "ran 1 trial(s), skipped 0" in capsys.readouterr().out
    assert runner.main(args) == 0
    assert "ran 0 trial(s), skipped 1" in capsys.readouterr().out
    rows = runner.load_results(tmp_path / "r.sqlite")
    assert [(r["variation"], r["seed"], r["frames"]) for r in rows] == [("unseen", 5, "")]


def test_operator_judged_trial_prompts_reset_and_verdict_and_keeps_recording(tmp_path):
    """The real-rig flow (rig: real) exercised on the virtual rig's graph: the operator's answer is the outcome."""
    from being_h0_runtime.launch import PROFILE_DIR

    prof = tmp_path / "fake_rig.yaml"
    prof.write_text((PROFILE_DIR / "sim.yaml").read_text().replace(
        "rig: virtual", "rig: real\ndds: {interface: lo, domain_id: 42}"))  # a real rig pins its DDS network
    prompts: list[str] = []
    answers = iter(["", "maybe", "n"])  # Enter after the reset; an invalid answer is asked again

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    fast = {"virtual_rig": {"camera_rate_hz": 0, "hand_baudrate": None}}
    r = runner.run_trial(str(prof), load_task("pick_place_toy"), "seen", 0, 3, EXPERT, tmp_path / "out", tmp_path,
                         record=True, ask=ask, extra_overrides=fast, time_limit_s=30)
    assert "RESET: Put the toy (seen)" in prompts[0]
    assert prompts[1] == prompts[2] and "Is the toy resting inside the box" in prompts[1]
    assert r.judge == "operator" and r.success is False
    rec = tmp_path / r.recording
    assert r.recording and rec.is_dir() and any(rec.rglob("*.mcap"))
