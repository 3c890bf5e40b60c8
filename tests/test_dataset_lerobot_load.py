"""The LeRobot export loads, unmodified, in `lerobot` itself (where it is installed).

lerobot is an optional extra (`pip install -e '.[lerobot]'`): lerobot 0.6.x needs Python >= 3.12,
0.4.4 is the newest for Python 3.10/3.11, and both pin torch, so it lives in its own environment
rather than in the runtime's (see README, "Datasets").  Two ways to run this check:

* lerobot importable in the interpreter running pytest: the dataset is loaded in-process;
* otherwise BEING_H0_LEROBOT_PYTHON names a Python that has lerobot (e.g. a Python 3.12 venv with
  `pip install "lerobot[dataset]==0.6.*"`): the dataset is recorded and exported here with this project's
  code, then loaded in that interpreter by tests/lerobot_load_probe.py, which prints what lerobot decoded
  as JSON.

Without either the test is skipped, saying which.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_dataset_export import record

LEROBOT_PYTHON_ENV = "BEING_H0_LEROBOT_PYTHON"
PROBE_SCRIPT = Path(__file__).with_name("lerobot_load_probe.py")
REPO_ID = "local/being_h0_export"
FPS = 10


def _external_python_problem(python: str) -> str | None:
    """Why `python` cannot run the probe (None when it can: it runs and finds lerobot)."""
    try:
        found = subprocess.run([python, "-c", "import importlib.util, sys; "
                                "sys.exit(0 if importlib.util.find_spec('lerobot') else 3)"],
                               capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{LEROBOT_PYTHON_ENV}={python} does not run: {exc}"
    if found.returncode == 3:
        return f"{LEROBOT_PYTHON_ENV}={python} runs but has no lerobot installed"
    if found.returncode != 0:
        return f"{LEROBOT_PYTHON_ENV}={python} failed (exit {found.returncode}): {found.stderr.strip()[-300:]}"
    return None


LEROBOT_IN_PROCESS = importlib.util.find_spec("lerobot") is not None
LEROBOT_PYTHON = os.environ.get(LEROBOT_PYTHON_ENV, "")
if not LEROBOT_IN_PROCESS:
    if not LEROBOT_PYTHON:
        pytest.skip(f"lerobot is not installed in this interpreter (optional extra `.[lerobot]`, kept out of the "
                    f"runtime venv because it pins torch) and {LEROBOT_PYTHON_ENV} names no interpreter that has "
                    f"it", allow_module_level=True)
    _problem = _external_python_problem(LEROBOT_PYTHON)
    if _problem:
        pytest.skip(f"lerobot is not installed in this interpreter, and {_problem}", allow_module_level=True)


def _probe_in_process(root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from lerobot_load_probe import probe

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a local dataset: lerobot must not ask the Hub for anything
    return json.loads(json.dumps(probe(REPO_ID, root)))  # the same plain-JSON view as the subprocess gives


def _probe_in_subprocess(root: Path, tmp_path: Path) -> dict[str, Any]:
    # Only lerobot's environment: not this project's PYTHONPATH, and a throwaway HF cache (lerobot's
    # `datasets` caches the parquet it reads); offline, so nothing is asked of the Hub.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"))
    done = subprocess.run([LEROBOT_PYTHON, str(PROBE_SCRIPT), REPO_ID, str(root)], capture_output=True,
                          text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, f"lerobot ({LEROBOT_PYTHON}) could not load the export:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def _exported_frames(episode_paths: list[Path]) -> list[np.ndarray]:
    """Each episode's frames as the exporter aligns them (N, H, W, 3 uint8): what the video should decode to."""
    from being_h0_runtime.recording.export import align_episode
    from being_h0_runtime.recording.streams import DEFAULT_NAMES, IMAGE_TOPIC, read_streams

    return [align_episode(read_streams(p, tuple(DEFAULT_NAMES), IMAGE_TOPIC), FPS)["images"] for p in episode_paths]


def _assert_decodes_to(image: dict[str, Any], frames: list[np.ndarray], episode: int, frame: int) -> None:
    """lerobot's decoded frame is, of all exported frames, closest to (episode, frame): the video's time
    ranges in meta/episodes point at the right frames.  mp4v is lossy, so "closest" rather than "equal"."""
    got = np.asarray(image["pixels_u8"], np.float64).transpose(1, 2, 0)  # C, H, W -> H, W, C
    errors = {(e, f): float(np.abs(got - want).mean()) for e, ep in enumerate(frames) for f, want in enumerate(ep)}
    assert min(errors, key=errors.get) == (episode, frame), (episode, frame, sorted(errors.items(),
                                                                                    key=lambda kv: kv[1])[:3])
    assert errors[(episode, frame)] < 8.0  # mean error in 0..255 levels: the codec's loss, not another picture


def test_export_loads_in_lerobot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from being_h0_runtime.recording.lerobot import export_lerobot

    eps = record(tmp_path, n=2, seconds=1.0)
    root = tmp_path / "lr"
    info = export_lerobot(eps, root, fps=FPS)
    loaded = (_probe_in_process(root, monkeypatch) if LEROBOT_IN_PROCESS
              else _probe_in_subprocess(root, tmp_path))

    assert loaded["num_episodes"] == 2 and loaded["len"] == info["total_frames"]
    first, last = loaded["items"]["first"], loaded["items"]["last"]
    for item in (first, last):
        assert item["observation.state"]["shape"] == [13]
        assert item["action"]["shape"] == [13]
        image = item["observation.images.front"]
        assert len(image["shape"]) == 3 and image["shape"][0] == 3  # C, H, W as lerobot decodes video frames
        assert image["shape"][1:] == info["features"]["observation.images.front"]["shape"][:2]
        assert image["max"] <= 1.0 + 1e-6 and image["min"] >= 0.0
        assert image["max"] > image["min"]  # a decoded picture, not a blank
        # the frame's time within its episode is its index over the fps
        assert item["timestamp"]["value"] == pytest.approx(item["frame_index"]["value"] / FPS, abs=1e-4)
    assert first["task"]["value"] == "pick up toy 0" and last["task"]["value"] == "pick up toy 1"
    assert int(first["episode_index"]["value"]) == 0 and int(last["episode_index"]["value"]) == 1
    assert first["timestamp"]["value"] == 0.0 and int(last["index"]["value"]) == loaded["len"] - 1
    assert first["observation.state"]["finite"] and last["action"]["finite"]
    frames = _exported_frames(eps)
    _assert_decodes_to(first["observation.images.front"], frames, episode=0, frame=0)
    _assert_decodes_to(last["observation.images.front"], frames, episode=1, frame=len(frames[1]) - 1)
