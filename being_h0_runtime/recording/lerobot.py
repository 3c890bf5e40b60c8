"""LeRobot v3.0 dataset export (codebase_version "v3.0" layout)::

    meta/info.json                          features, fps, path templates, totals
    meta/stats.json                         per-feature min/max/mean/std/count
    meta/tasks.parquet                      task string (index) -> task_index
    meta/episodes/chunk-000/file-000.parquet  one row per episode: length, tasks, data/video file + ranges
    data/chunk-000/file-000.parquet         one row per frame: observation.state, action, timestamp,
                                            frame_index, episode_index, index, task_index, intervention (DAgger)
    videos/observation.images.<cam>/chunk-000/file-000.mp4   all episodes back to back

v3 packs many episodes into one file and locates each by row range
(dataset_from_index/dataset_to_index) and by time range in the video
(from_timestamp/to_timestamp).  Videos are written with cv2.VideoWriter
(MPEG-4 part 2, "mp4v"), which LeRobot's pyav/torchcodec decoders read; a
re-encode to AV1 is optional and left to LeRobot's own tools.  Everything is
built from our aligned export (`export.align_episode`), so both datasets
hold the same frames.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .episode import atomic_write_text
from .export import ExportError, align_episode
from .streams import DEFAULT_NAMES, IMAGE_TOPIC, read_streams

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"


def _stats(x: np.ndarray) -> dict[str, list]:
    x = x.astype(np.float64)
    return {"min": x.min(0).tolist(), "max": x.max(0).tolist(), "mean": x.mean(0).tolist(),
            "std": x.std(0).tolist(), "count": [int(x.shape[0])]}


def _image_stats(frames: np.ndarray) -> dict[str, list]:
    """LeRobot keeps image stats per channel, shaped (3, 1, 1), in [0, 1]."""
    x = frames.astype(np.float64) / 255.0
    per = lambda f: f(x, axis=(0, 1, 2)).reshape(3, 1, 1).tolist()
    return {"min": per(np.min), "max": per(np.max), "mean": per(np.mean), "std": per(np.std),
            "count": [int(frames.shape[0])]}


def _episode_row(ep_idx: int, task: str, n: int, index: int, video_t: float, fps: float, camera_key: str,
                 meta: Any) -> dict[str, Any]:
    """meta/episodes: where episode `ep_idx` lies in the data file (rows) and in the video (seconds)."""
    return {
        "episode_index": ep_idx, "tasks": [task], "length": n,
        "data/chunk_index": 0, "data/file_index": 0,
        "dataset_from_index": index, "dataset_to_index": index + n,
        f"videos/{camera_key}/chunk_index": 0, f"videos/{camera_key}/file_index": 0,
        f"videos/{camera_key}/from_timestamp": video_t, f"videos/{camera_key}/to_timestamp": video_t + n / fps,
        "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0,
        "outcome": meta.outcome, "source_episode_id": meta.episode_id,
    }


def _add_frame_rows(rows: dict[str, list], a: dict[str, Any], ep_idx: int, index: int, t_idx: int,
                    fps: float) -> None:
    """data: one row per aligned frame of an episode."""
    n = len(a["t_abs"])
    rows["observation.state"] += list(a["proprio"])
    rows["action"] += list(a["action"])
    rows["timestamp"] += (np.arange(n) / fps).astype(np.float32).tolist()
    rows["frame_index"] += list(range(n))
    rows["episode_index"] += [ep_idx] * n
    rows["index"] += list(range(index, index + n))
    rows["task_index"] += [t_idx] * n
    rows["intervention"] += [bool(x) for x in a["intervention"]]  # a human took over (DAgger), per frame


def _write_data(out: Path, rows: dict[str, list], d: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    vec = pa.list_(pa.float32(), d)
    table = pa.table({
        "observation.state": pa.array([np.asarray(v, np.float32) for v in rows["observation.state"]], type=vec),
        "action": pa.array([np.asarray(v, np.float32) for v in rows["action"]], type=vec),
        "timestamp": pa.array(rows["timestamp"], pa.float32()),
        "frame_index": pa.array(rows["frame_index"], pa.int64()),
        "episode_index": pa.array(rows["episode_index"], pa.int64()),
        "index": pa.array(rows["index"], pa.int64()),
        "task_index": pa.array(rows["task_index"], pa.int64()),
        "intervention": pa.array(rows["intervention"], pa.bool_()),
    })
    pq.write_table(table, out / DATA_PATH.format(chunk_index=0, file_index=0))


def _write_tasks(out: Path, tasks: dict[str, int]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # LeRobot reads tasks.parquet with pandas: the task string is the DataFrame index
    task_table = pa.table({"task_index": pa.array(list(tasks.values()), pa.int64()),
                           "task": pa.array(list(tasks.keys()), pa.string())})
    pandas_meta = {"index_columns": ["task"], "column_indexes": [], "columns": [
        {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64",
         "metadata": None},
        {"name": None, "field_name": "task", "pandas_type": "unicode", "numpy_type": "object", "metadata": None}],
        "creator": {"library": "being_h0_runtime"}, "pandas_version": "2.0.0"}
    task_table = task_table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})
    pq.write_table(task_table, out / "meta" / "tasks.parquet")


def _write_episodes(out: Path, ep_rows: list[dict[str, Any]], all_state: list[np.ndarray],
                    all_action: list[np.ndarray]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ep_stats = []
    for e, st, ac in zip(ep_rows, all_state, all_action):
        e = dict(e)
        for k, arr in (("observation.state", st), ("action", ac)):
            for stat, v in _stats(arr).items():
                e[f"stats/{k}/{stat}"] = v
        ep_stats.append(e)
    pq.write_table(pa.Table.from_pylist(ep_stats), out / "meta" / "episodes" / "chunk-000" / "file-000.parquet")


def _info(robot_type: str, n_episodes: int, n_frames: int, n_tasks: int, fps: float, camera_key: str,
          shape: tuple[int, int], names: Sequence[str]) -> dict[str, Any]:
    """meta/info.json: totals, path templates and every feature's dtype and shape."""
    h, w = shape
    d = len(names)
    scalar = lambda dt: {"dtype": dt, "shape": [1], "names": None}
    return {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": robot_type,
        "total_episodes": n_episodes,
        "total_frames": n_frames,
        "total_tasks": n_tasks,
        "chunks_size": 1000,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 500,
        "fps": int(round(fps)) if float(fps).is_integer() else fps,
        "splits": {"train": f"0:{n_episodes}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH,
        "features": {
            camera_key: {"dtype": "video", "shape": [h, w, 3], "names": ["height", "width", "channels"],
                         "info": {"video.height": h, "video.width": w, "video.codec": "mpeg4",
                                  "video.pix_fmt": "yuv420p", "video.is_depth_map": False,
                                  "video.fps": fps, "video.channels": 3, "has_audio": False}},
            "observation.state": {"dtype": "float32", "shape": [d], "names": list(names)},
            "action": {"dtype": "float32", "shape": [d], "names": list(names)},
            "timestamp": scalar("float32"),
            "frame_index": scalar("int64"),
            "episode_index": scalar("int64"),
            "index": scalar("int64"),
            "task_index": scalar("int64"),
            # True where an operator had taken over from the policy (DAgger); a bool like LeRobot's next.done
            "intervention": scalar("bool"),
        },
    }


def export_lerobot(episode_paths: Iterable[Path | str], out_dir: Path | str, fps: float,
                   names: Sequence[str] = DEFAULT_NAMES, camera_key: str = "observation.images.front",
                   robot_type: str = "franka_inspire", image_topic: str = IMAGE_TOPIC) -> dict[str, Any]:
    """Write a LeRobot v3.0 dataset; returns info.json's content."""
    import cv2

    out = Path(out_dir)
    (out / "meta" / "episodes" / "chunk-000").mkdir(parents=True, exist_ok=True)
    (out / "data" / "chunk-000").mkdir(parents=True, exist_ok=True)
    vdir = out / "videos" / camera_key / "chunk-000"
    vdir.mkdir(parents=True, exist_ok=True)
    video_path = vdir / "file-000.mp4"

    tasks: dict[str, int] = {}
    rows: dict[str, list] = {k: [] for k in ("observation.state", "action", "timestamp", "frame_index",
                                             "episode_index", "index", "task_index", "intervention")}
    ep_rows: list[dict[str, Any]] = []
    all_state, all_action, all_frames = [], [], []
    writer = None
    shape: tuple[int, int] | None = None
    index = 0
    video_t = 0.0
    for ep_idx, path in enumerate(map(Path, episode_paths)):
        s = read_streams(path, tuple(names), image_topic)
        a = align_episode(s, fps)
        n = len(a["t_abs"])
        h, w = a["images"].shape[1:3]
        if shape is None:
            shape = (h, w)
            writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
            if not writer.isOpened():
                raise ExportError(f"{video_path}: cv2.VideoWriter could not open an mp4v writer")
        elif shape != (h, w):
            raise ExportError(f"{path}: image size {h}x{w} differs from the first episode's {shape}")
        for img in a["images"]:
            writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        task = s.meta.instruction or s.meta.task_id or "task"
        t_idx = tasks.setdefault(task, len(tasks))
        _add_frame_rows(rows, a, ep_idx, index, t_idx, fps)
        ep_rows.append(_episode_row(ep_idx, task, n, index, video_t, fps, camera_key, s.meta))
        index += n
        video_t += n / fps
        all_state.append(a["proprio"])
        all_action.append(a["action"])
        all_frames.append(a["images"][:: max(1, n // 20)])  # subsample frames for image stats
    if writer is None or shape is None:
        raise ExportError("no episodes to export")
    writer.release()

    _write_data(out, rows, len(names))
    _write_tasks(out, tasks)
    _write_episodes(out, ep_rows, all_state, all_action)
    stats = {"observation.state": _stats(np.concatenate(all_state)), "action": _stats(np.concatenate(all_action)),
             camera_key: _image_stats(np.concatenate(all_frames))}
    for key in ("timestamp", "frame_index", "episode_index", "index", "task_index", "intervention"):
        stats[key] = _stats(np.asarray(rows[key], np.float64)[:, None])
    info = _info(robot_type, len(ep_rows), index, len(tasks), fps, camera_key, shape, names)
    atomic_write_text(out / "meta" / "info.json", json.dumps(info, indent=4) + "\n")
    atomic_write_text(out / "meta" / "stats.json", json.dumps(stats, indent=4) + "\n")
    return info
