"""`being-h0 dataset` functions: list, inspect (PNGs), validate (gaps, NaN, missing topics), recover, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from being_h0_runtime.msgs.convert import joint_state
from being_h0_runtime.nodes.recorder import RecorderNode, RecorderParams
from being_h0_runtime.recording.dataset_cli import main
from being_h0_runtime.recording.quality import validate_episode
from being_h0_runtime.recording.synthetic import ARM, HAND, SyntheticRig
from being_h0_runtime.transport.inproc import InprocContext


@pytest.fixture(scope="module")
def recs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("recs")
    ctx = InprocContext(start_time=5.0)
    rig = SyntheticRig(ctx)
    rec = RecorderNode(ctx.create_node("recorder"), RecorderParams(output_dir=root, min_free_bytes=0)).bring_up()
    good = rec.start("pick", "pick it")
    ctx.run_for(1.0)
    rec.mark(True)
    rec.end()
    # a camera dropout of 1 s and a NaN joint value
    gappy = rec.start("pick", "pick it")
    ctx.run_for(0.5)
    rig.img.publish = lambda m: None  # camera unplugged
    ctx.run_for(1.0)
    del rig.img.publish
    rig.js.publish(joint_state(ARM + HAND, [np.nan] * 13, stamp=ctx.now()))
    ctx.run_for(0.5)
    rec.end()
    # no commands recorded
    rec2 = RecorderNode(ctx.create_node("rec2"), RecorderParams(output_dir=root / "nocmd", min_free_bytes=0,
                                                                topics=["/camera/color/image_raw", "/joint_states"])).bring_up()
    nocmd = rec2.start("pick", "")
    ctx.run_for(0.5)
    rec2.end()
    return {"root": root, "good": good, "gappy": gappy, "nocmd": nocmd}


def test_validate_finds_gaps_nan_and_missing_topics(recs) -> None:
    assert validate_episode(recs["good"]).ok
    rep = validate_episode(recs["gappy"])
    text = "\n".join(rep.errors)
    assert "/camera/color/image_raw/compressed: 1 gap" in text and "NaN" in text
    rep = validate_episode(recs["nocmd"])
    assert any("missing topic /arm/command" in e for e in rep.errors)
    assert "no instruction" in rep.warnings


def test_cli_list_inspect_validate_export(recs, tmp_path: Path, capsys) -> None:
    assert main(["list", str(recs["root"]), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3 and {r["outcome"] for r in rows} == {"success", "unknown"}
    assert main(["inspect", str(recs["good"]), "--out", str(tmp_path / "insp")]) == 0
    for name in ("trajectory.png", "frames.png"):
        data = (tmp_path / "insp" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert main(["validate", str(recs["good"])]) == 0
    assert main(["validate", str(recs["root"])]) == 1
    assert "2 episode(s) with errors" in capsys.readouterr().out
    assert main(["export", str(recs["root"]), "--out", str(tmp_path / "ds"), "--rate", "10", "--only-success"]) == 0
    assert json.loads((tmp_path / "ds" / "meta.json").read_text())["episodes"][0]["outcome"] == "success"
    assert main(["list", str(tmp_path / "missing")]) == 2


def test_help_teaches(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "validate" in out and "examples:" in out and "lerobot" in out


def test_gaps_are_judged_per_topic_rate_and_from_the_stream_start() -> None:
    from being_h0_runtime.recording.quality import topic_gaps, topic_period

    start = 100.0
    # /diagnostics: three nodes at 1 Hz in the same tick -> bursts a second apart: no gap
    diag = np.sort(np.concatenate([start + np.arange(20.0) + k * 1e-4 for k in range(3)]))
    assert abs(topic_period(diag) - 1.0) < 0.01  # from one burst to the next
    assert topic_gaps(diag, start)[1] == []
    # ... but a graph that goes quiet for 10 s is still caught
    quiet = diag[(diag < start + 3) | (diag > start + 11)]
    assert len(topic_gaps(quiet, start)[1]) == 1
    # six nodes started 0.1 s apart by the launcher, each at 1 Hz: arrivals 0.1 s apart, then 0.5 s of silence
    staggered = np.sort(np.concatenate([start + np.arange(20.0) + 0.1 * k for k in range(6)]))
    assert abs(topic_period(staggered) - 0.5) < 0.01 and topic_gaps(staggered, start)[1] == []
    # /joint_states: the arm at 100 Hz and the hand at 50 Hz on one topic
    js = np.sort(np.concatenate([start + np.arange(0, 5, 0.01), start + 0.003 + np.arange(0, 5, 0.02)]))
    assert abs(topic_period(js) - 0.01) < 1e-3 and topic_gaps(js, start)[1] == []
    # a 10 Hz camera on a loaded machine (spacings 0.07..0.25 s): no gap; 3 s without frames: a gap
    rng = np.random.default_rng(0)
    jittery = start + np.cumsum(rng.uniform(0.07, 0.25, 200))
    assert topic_gaps(jittery, start)[1] == []
    dropped = np.concatenate([jittery[jittery < start + 10], jittery[jittery > start + 13]])
    assert len(topic_gaps(dropped, start)[1]) == 1
    # /arm/command: one holding command at the start, then 100 Hz from the first chunk at +0.59 s
    cmd = np.concatenate([[start], start + 0.59 + np.arange(0, 5, 0.01)])
    limit, gaps, delay = topic_gaps(cmd, start)
    assert gaps == [] and abs(delay - 0.59) < 1e-9 and abs(limit - 0.5) < 1e-9
    # the same stream with 0.6 s missing in the middle is a gap
    holed = cmd[(cmd < start + 2.0) | (cmd > start + 2.6)]
    _, gaps, _ = topic_gaps(holed, start)
    assert len(gaps) == 1 and abs(gaps[0][0] - (start + 2.0)) < 0.011 and gaps[0][1] > 0.6
    # a dropout right after the start is not mistaken for a lead-in once the stream has begun
    cam = start + np.arange(0, 3, 0.1)
    cam = cam[(cam < start + 0.45) | (cam > start + 1.5)]
    assert len(topic_gaps(cam, start)[1]) == 1


def test_a_camera_that_dies_before_the_end_fails_validation(tmp_path: Path) -> None:
    ctx = InprocContext(start_time=5.0)
    rig = SyntheticRig(ctx)
    rec = RecorderNode(ctx.create_node("recorder"), RecorderParams(output_dir=tmp_path, min_free_bytes=0)).bring_up()
    ep = rec.start("pick", "pick it")
    ctx.run_for(1.0)
    rig.img.publish = lambda m: None  # camera unplugged for good
    ctx.run_for(2.0)
    rec.mark(True)
    rec.end()
    rep = validate_episode(ep)
    assert any("/camera/color/image_raw/compressed: stops" in e for e in rep.errors), rep.lines()
