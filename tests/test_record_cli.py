"""`being-h0 record`: scripted demonstrations through the real recording path, readable by standard tools."""

from __future__ import annotations

import os
from pathlib import Path

from being_h0_runtime.recording.record_cli import main

os.environ.setdefault("MUJOCO_GL", "egl")


def test_record_two_episodes_open_with_rosbags_and_export(tmp_path: Path):
    from rosbags.highlevel import AnyReader

    out, ds = tmp_path / "demos", tmp_path / "dataset"
    assert main(["--episodes", "2", "--out", str(out), "--export", str(ds), "--camera-rate", "5"]) == 0
    episodes = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(episodes) == 2
    with AnyReader([episodes[0]]) as reader:
        topics = {c.topic for c in reader.connections}
        n = sum(1 for _ in reader.messages())
    assert {"/joint_states", "/action_chunk", "/task/status"} <= topics
    assert any(t.startswith("/camera/color/image_raw") for t in topics)
    assert n > 100
    # a freshly recorded episode passes `being-h0 dataset validate` (1 Hz /diagnostics bursts and the
    # commands' lead-in before the first chunk are not gaps)
    from being_h0_runtime.recording.quality import validate_episode

    for ep in episodes:
        rep = validate_episode(ep)
        assert rep.ok, "\n".join(rep.lines())
    from being_h0_runtime.recording.export import load_dataset

    data = load_dataset(ds)
    assert len(data.episodes) == 2


def test_task_option_and_resume_record_only_the_missing_episodes(tmp_path: Path):
    import json

    from being_h0_runtime.recording.export import load_dataset

    out = tmp_path / "demos"
    args = ["--task", "close_lid", "--out", str(out), "--seed-base", "1000", "--camera-rate", "5", "--resume"]
    assert main(["--episodes", "1", *args]) == 0
    first = [p for p in out.iterdir() if p.is_dir()]
    assert len(first) == 1 and first[0].name.startswith("close_lid_") and first[0].name.endswith("_0000")
    stamp = (first[0] / "episode.json").stat().st_mtime_ns
    half = out / "close_lid_20260101-000000_0001"  # what a kill in the middle of episode 1 leaves behind
    half.mkdir()
    (half / "junk.mcap").write_text("torn")
    ds = tmp_path / "dataset"
    assert main(["--episodes", "2", *args, "--export", str(ds)]) == 0
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert len(folders) == 2 and half.name not in folders and folders[0] == first[0].name
    assert (first[0] / "episode.json").stat().st_mtime_ns == stamp  # episode 0 was not recorded again
    ledger = [json.loads(line) for line in (out / "record_log.jsonl").read_text().splitlines()]
    assert [(e["index"], e["seed"]) for e in ledger] == [(0, 1000), (1, 1001)]
    data = load_dataset(ds)
    assert [e["task_id"] for e in data.episodes] == ["close_lid", "close_lid"]
    assert {e["instruction"] for e in data.episodes} == {"close the lid of the box"}
    # a different seed base on the same folder is refused, not mixed in
    assert main(["--episodes", "2", "--task", "close_lid", "--out", str(out), "--seed-base", "7", "--resume"]) == 2
