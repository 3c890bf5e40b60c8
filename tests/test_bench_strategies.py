"""Chunk execution strategies compared on the virtual rig: metrics and a short real comparison."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from being_h0_runtime.bench import strategies


def test_boundary_step_is_measured_where_chunks_arrive_and_holds_split_segments():
    dt = 0.01
    t = list(np.arange(0, 1.0, dt))
    x = [np.array([0.001 * i]) for i in range(len(t))]
    x[50] = x[50] + 0.2  # a jump in the cycle the chunk arriving at t=0.5 took over
    for i in range(51, len(t)):
        x[i] = x[i] + 0.2
    m = strategies.trajectory_metrics(t, x, chunk_times=[0.5], window=None, dt=dt)
    assert m.max_boundary_step == pytest.approx(0.201, abs=1e-9)
    assert m.boundaries == 1 and m.commands == len(t)
    # the same jump with no chunk arriving there is not a boundary step
    assert strategies.trajectory_metrics(t, x, chunk_times=[0.3], window=None, dt=dt).max_boundary_step == \
        pytest.approx(0.001, abs=1e-9)
    # a hold (gap in commands) splits the trajectory: the resume is not a jerk spike nor a boundary step
    t2 = t[:40] + [ti + 2.0 for ti in t[40:]]
    smooth = [np.array([0.001 * i]) for i in range(len(t))]
    m2 = strategies.trajectory_metrics(t2, smooth, chunk_times=[], window=None, dt=dt)
    assert m2.jerk_rms == pytest.approx(0.0, abs=1e-6) and m2.max_boundary_step == 0.0
    # only the running window counts
    m3 = strategies.trajectory_metrics(t, x, chunk_times=[0.5], window=(0.6, 0.9), dt=dt)
    assert m3.boundaries == 0 and m3.commands == 31


def test_crossfade_stitches_chunks_more_smoothly_than_sync_under_latency(capsys):
    rows = strategies.compare(["sync", "crossfade"], seeds=[0], latency_s=0.1)
    by = {s.strategy: s for s in rows}
    for s in rows:
        assert s.episodes == 1 and s.rows[0].metrics.commands > 500 and s.rows[0].metrics.boundaries > 5
    # sync jumps to each new chunk; crossfade blends over a few steps
    assert by["crossfade"].raw_max_boundary_step < 0.5 * by["sync"].raw_max_boundary_step
    assert by["crossfade"].successes == 1
    table = strategies.format_table(rows)
    assert "sync" in table and "crossfade" in table and "bound. step" in table


def test_rtc_is_compared_with_the_same_seeds_and_metrics():
    assert "rtc" in strategies.STRATEGIES
    rows = strategies.compare(["rtc"], seeds=[0], latency_s=0.1)
    (s,) = rows
    assert s.strategy == "rtc" and s.latency_ms == pytest.approx(100.0) and s.successes == 1
    assert s.rows[0].metrics.boundaries > 5
    # rtc keeps the committed prefix: a chunk's arrival moves the target no more than an ordinary step does
    assert s.raw_max_boundary_step <= s.rows[0].raw.step_p99 + 1e-9


def _summary(name: str, successes: int, boundary: float, task_s: float, latency_ms: float = 100.0):
    row = strategies.EpisodeRow(name, 0, "succeeded" if successes else "timeout", bool(successes), task_s, 1.0,
                                strategies.TrajectoryMetrics(1.0, boundary, 0.01, 100, 10),
                                strategies.TrajectoryMetrics(1.0, boundary, 0.01, 100, 10))
    return strategies.StrategySummary(name, successes, 1, 1.0, boundary, 0.01, 1.0, boundary, task_s, 1.0, [row],
                                      latency_ms)


def test_the_recommendation_is_success_first_over_every_delay_then_smoothness_then_speed():
    from being_h0_runtime.bench.strategy_advice import advice_from, recommend

    at100 = [_summary("ensemble", 1, 0.14, 11.0), _summary("rtc", 1, 0.13, 11.0), _summary("sync", 1, 0.30, 9.0)]
    assert recommend(at100) == "rtc"  # all succeed: the smallest boundary step
    at400 = [_summary("ensemble", 1, 0.14, 10.6, 400), _summary("rtc", 0, 0.13, 30.0, 400),
             _summary("sync", 0, 0.30, 30.0, 400)]
    assert recommend(at100 + at400) == "ensemble"  # rtc failed at 400 ms: success over all delays comes first
    tie = [_summary("a", 1, 0.1, 12.0), _summary("b", 1, 0.1, 10.0)]
    assert recommend(tie) == "b"
    advice = advice_from(at100 + at400, "being-h0 bench strategies --latency-ms 100 400")
    assert advice.recommended == "ensemble" and advice.evidence.command.endswith("--latency-ms 100 400")
    assert advice.evidence.figures["rtc@400ms"]["successes"] == 0 and "ensemble 2/2" in advice.evidence.summary
    by_hand = advice_from(at100 + at400, "cmd", chosen="rtc")
    assert by_hand.recommended == "rtc" and "chosen by hand" in by_hand.evidence.summary
    with pytest.raises(ValueError, match="not measured"):
        advice_from(at100, "cmd", chosen="crossfade")


def test_cli_refuses_advice_it_cannot_back(capsys):
    for argv, problem in ((["--write-manifest", "--engine", "expert"], "scripted expert has no manifest"),
                          (["--write-manifest", "--strategies", "rtc"], "at least two strategies"),
                          (["--recommend", "rtc"], "goes with --write-manifest"),
                          (["--advice-from", "/nonexistent.json"], "file not found"),
                          (["--latency-ms", "100", "900"], "--latency-ms must be in")):
        try:
            rc = strategies.main(argv)
        except SystemExit as stop:
            rc = stop.code
        assert rc == 2 and problem in capsys.readouterr().err


def test_write_manifest_measures_the_engine_and_records_the_winner(tmp_path, capsys):
    """End to end on a copy of the shipped engine, two strategies, one short episode each."""
    import shutil
    from pathlib import Path

    from being_h0_runtime.policy.engine_format import read_manifest, verify_engine_dir

    engine = tmp_path / "engine"
    shutil.copytree(Path(strategies.__file__).resolve().parents[2] / "models" / "being-h0-sim-small", engine,
                    ignore=shutil.ignore_patterns("bench"))
    rc = strategies.main(["--engine", str(engine), "--strategies", "sync", "rtc", "--seeds", "1", "--time-limit", "2",
                          "--latency-ms", "100", "--quiet", "--write-manifest", "--json", str(tmp_path / "s.json")])
    out = capsys.readouterr().out
    assert rc == 0 and "execution.recommended" in out
    advice = read_manifest(engine).execution
    assert advice is not None and advice.recommended in ("sync", "rtc")
    assert set(advice.evidence.figures) == {"sync@100ms", "rtc@100ms"}
    assert advice.evidence.command.startswith("being-h0 bench strategies --engine ")
    verify_engine_dir(engine)  # still a valid engine
    # the same figures, read back from the JSON, another pick by hand: nothing is measured again
    other = "sync" if advice.recommended == "rtc" else "rtc"
    assert strategies.main(["--advice-from", str(tmp_path / "s.json"), "--recommend", other]) == 0
    again = read_manifest(engine).execution
    assert again.recommended == other and "chosen by hand" in again.evidence.summary  # type: ignore[union-attr]
    assert again.evidence.command == advice.evidence.command  # type: ignore[union-attr]
    # advice for an engine that changed since it was measured is refused
    raw = json.loads((engine / "manifest.json").read_text())
    raw["engine_id"] += "-retrained"
    (engine / "manifest.json").write_text(json.dumps(raw, indent=2))
    assert strategies.main(["--advice-from", str(tmp_path / "s.json")]) == 2
    assert "measure it again" in capsys.readouterr().err
