"""Dataset export: alignment to the control rate, action = commanded next targets, stats, loader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from being_h0_runtime.msgs import Bool
from being_h0_runtime.nodes.recorder import RecorderNode, RecorderParams
from being_h0_runtime.recording.export import ExportError, export_dataset, load_dataset
from being_h0_runtime.recording.synthetic import SyntheticRig, frame_index, proprio_at
from being_h0_runtime.transport.inproc import InprocContext


def record(tmp_path: Path, n: int = 2, seconds: float = 2.0, compress: bool = True) -> list[Path]:
    ctx = InprocContext(start_time=50.0)
    rig = SyntheticRig(ctx)
    rec = RecorderNode(ctx.create_node("recorder"),
                       RecorderParams(output_dir=tmp_path / "raw", min_free_bytes=0, compress_images=compress)).bring_up()
    ctx.run_for(0.3)
    eps = []
    for i in range(n):
        eps.append(rec.start("pick", f"pick up toy {i}"))
        ctx.run_for(seconds / 2)
        if i == 0:
            rig.intervention.publish(Bool(True))
        ctx.run_for(seconds / 4)
        rig.intervention.publish(Bool(False))
        ctx.run_for(seconds / 4)
        rec.mark(True)
        rec.end()
    return eps


@pytest.fixture(scope="module")
def episodes(tmp_path_factory) -> list[Path]:
    return record(tmp_path_factory.mktemp("rec"))


def test_export_aligns_to_control_rate(episodes: list[Path], tmp_path: Path) -> None:
    info = export_dataset(episodes, tmp_path / "ds", control_rate_hz=20.0)
    assert info.num_episodes == 2 and info.image_shape == [24, 32, 3]
    ds = load_dataset(tmp_path / "ds")
    assert len(ds) == info.num_frames and ds.fps == 20.0 and len(ds.action_names) == 13
    e = ds.episode(0)
    T = len(e["t_abs"])
    assert 36 <= T <= 41  # ~2 s at 20 Hz
    np.testing.assert_allclose(np.diff(e["timestamps"]), 0.05, atol=1e-9)
    # proprio: newest 50 Hz joint state at or before each tick
    for k in range(T):
        t = e["t_abs"][k]
        ts = np.floor(round(t / 0.02, 6)) * 0.02
        np.testing.assert_allclose(e["proprio"][k], proprio_at(ts), atol=1e-5)
        # action: the command held at the next tick (commands = state 20 ms ahead)
        tc = np.floor(round((t + 0.05) / 0.02, 6)) * 0.02
        if k < T - 1:
            np.testing.assert_allclose(e["action"][k], proprio_at(tc + 0.02), atol=1e-5)
    # images: nearest earlier 10 Hz frame (the grey level encodes the frame index)
    red = np.array([frame_index(g) for g in e["images"][:, -1, -1, 0]])
    assert np.all(np.diff(red) >= 0) and np.all(np.diff(red) <= 1)
    assert sum(np.diff(red) == 1) == pytest.approx(T / 2, abs=2)
    # interventions tagged from the episode metadata
    assert e["intervention"].any() and not ds.episode(1)["intervention"].any()
    assert str(e["instruction"]) == "pick up toy 0"
    # stats over all frames
    allp = np.concatenate([ds.episode(i)["proprio"] for i in range(2)])
    np.testing.assert_allclose(ds.stats["proprio"]["mean"], allp.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ds.stats["action"]["max"], np.concatenate(
        [ds.episode(i)["action"] for i in range(2)]).max(0), atol=1e-6)
    f = ds.frame(T + 3, horizon=4)
    assert f["episode_index"] == 1 and f["frame_index"] == 3 and f["action"].shape == (4, 13)
    meta = json.loads((tmp_path / "ds" / "meta.json").read_text())
    assert meta["action_names"][7:] == ["little", "ring", "middle", "index", "thumb_bend", "thumb_rotation"]


def test_export_rejects_bad_input(episodes: list[Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="control_rate_hz"):
        export_dataset(episodes, tmp_path / "x", 0)
    with pytest.raises(ExportError, match="joint"):
        export_dataset(episodes, tmp_path / "y", 20.0, names=["nope"])
    with pytest.raises(FileNotFoundError, match="meta.json"):
        load_dataset(tmp_path)
