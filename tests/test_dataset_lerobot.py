"""LeRobot v3.0 export: layout, parquet contents match the aligned export, video frames decode."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from test_dataset_export import record

from being_h0_runtime.recording.export import export_dataset, load_dataset
from being_h0_runtime.recording.lerobot import export_lerobot
from being_h0_runtime.recording.synthetic import frame_index


def test_lerobot_v3_layout_and_contents(tmp_path: Path) -> None:
    eps = record(tmp_path, n=2, seconds=1.0)
    info = export_lerobot(eps, tmp_path / "lr", fps=10)
    root = tmp_path / "lr"
    for rel in ("meta/info.json", "meta/stats.json", "meta/tasks.parquet",
                "meta/episodes/chunk-000/file-000.parquet", "data/chunk-000/file-000.parquet",
                "videos/observation.images.front/chunk-000/file-000.mp4"):
        assert (root / rel).is_file(), rel
    assert json.loads((root / "meta/info.json").read_text())["codebase_version"] == "v3.0"
    data = pq.read_table(root / "data/chunk-000/file-000.parquet").to_pydict()
    n = info["total_frames"]
    assert len(data["index"]) == n and data["index"] == list(range(n))
    assert set(data["episode_index"]) == {0, 1}
    eps_meta = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert eps_meta[1]["dataset_from_index"] == eps_meta[0]["dataset_to_index"] == eps_meta[0]["length"]
    assert eps_meta[0]["tasks"] == ["pick up toy 0"]
    import pandas as pd

    tasks = pd.read_parquet(root / "meta/tasks.parquet")
    assert list(tasks.index) == ["pick up toy 0", "pick up toy 1"] and list(tasks["task_index"]) == [0, 1]
    # the same frames as the post-training export
    export_dataset(eps, tmp_path / "pt", 10)
    ds = load_dataset(tmp_path / "pt")
    np.testing.assert_allclose(np.array(data["action"][: eps_meta[0]["length"]]), ds.episode(0)["action"], atol=1e-6)
    stats = json.loads((root / "meta/stats.json").read_text())
    assert len(stats["observation.state"]["mean"]) == 13 and np.array(stats["observation.images.front"]["mean"]).shape == (3, 1, 1)
    # video: one frame per row, decodable, same content as the aligned images
    import cv2

    cap = cv2.VideoCapture(str(root / "videos/observation.images.front/chunk-000/file-000.mp4"))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    assert len(frames) == n
    want = [frame_index(int(g)) for g in ds.episode(0)["images"][:, -1, -1, 0]]
    got = [frame_index(int(f[-1, -1, 2])) for f in frames[: len(want)]]
    assert np.mean(np.array(got) == np.array(want)) > 0.8  # lossy codec: nearly all frames identify exactly
