"""The LeRobot export loads, unmodified, in `lerobot` itself (where it is installed).

lerobot is an optional extra (`pip install -e '.[lerobot]'`): lerobot 0.6.x needs Python >= 3.12,
0.4.4 is the newest for Python 3.10/3.11, and both pin torch, so it lives in its own environment
rather than in the runtime's (see README, "Datasets").  Without it this test is skipped with that reason.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from test_dataset_export import record

if importlib.util.find_spec("lerobot") is None:
    pytest.skip("lerobot is not installed (optional extra `.[lerobot]`, kept out of the runtime venv because "
                "it pins torch)", allow_module_level=True)


def _dataset_class():
    try:  # lerobot >= 0.4
        from lerobot.datasets.lerobot_dataset import LeRobotDataset
    except ImportError:  # older layout
        from lerobot.common.datasets.lerobot_dataset import LeRobotDataset
    return LeRobotDataset


def test_export_loads_in_lerobot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from being_h0_runtime.recording.lerobot import export_lerobot

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a local dataset: lerobot must not ask the Hub for anything
    eps = record(tmp_path, n=2, seconds=1.0)
    root = tmp_path / "lr"
    info = export_lerobot(eps, root, fps=10)
    ds = _dataset_class()("local/being_h0_export", root=root)
    assert ds.num_episodes == 2 and len(ds) == info["total_frames"]
    first, last = ds[0], ds[len(ds) - 1]
    for item in (first, last):
        assert tuple(item["observation.state"].shape) == (13,)
        assert tuple(item["action"].shape) == (13,)
        image = item["observation.images.front"]
        assert image.ndim == 3 and image.shape[0] == 3  # C, H, W as lerobot decodes video frames
        assert float(image.max()) <= 1.0 + 1e-6
    assert first["task"] == "pick up toy 0" and last["task"] == "pick up toy 1"
    assert int(last["episode_index"]) == 1
    assert np.isfinite(np.asarray(first["observation.state"])).all()
