"""Post-training dataset export: recorded MCAP episodes -> aligned arrays at the control rate.

Per episode ``episode_NNNNNN.npz``:

- ``timestamps`` (T,) float64, seconds from the episode's first frame; ``t_abs`` node-clock seconds
- ``images`` (T, H, W, 3) uint8 RGB: the newest camera frame at or before each tick
- ``proprio`` (T, D) float32: the newest merged /joint_states at or before each tick
- ``action`` (T, D) float32: the **commanded next targets**: the newest
  /arm/command + /hand/command (after safety) at or before the *next* tick
  (t + 1/rate), i.e. what the rig was told to do over the coming control
  period.  Episodes without command topics fall back to the next proprio.
- ``intervention`` (T,) bool: inside a teleop takeover interval (DAgger)
- ``instruction``, ``task_id``, ``episode_id``: strings

Dataset-level ``meta.json``: fps, names, image shape, per-dim stats
(mean/std/min/max over all frames) for proprio and action, and one entry per
episode.  `load_dataset` gives numpy access without torch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .episode import atomic_write_text
from .streams import DEFAULT_NAMES, IMAGE_TOPIC, EpisodeStreams, hold_index, read_streams

FORMAT = "being_h0_posttrain"
VERSION = 1


@dataclass
class DatasetInfo:
    out_dir: Path
    fps: float
    names: list[str]
    num_episodes: int
    num_frames: int
    image_shape: list[int]
    stats: dict[str, dict[str, list[float]]]
    episodes: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class ExportError(ValueError):
    pass


def align_episode(s: EpisodeStreams, control_rate_hz: float) -> dict[str, np.ndarray]:
    """Resample one episode onto a grid at `control_rate_hz` (see module docstring)."""
    if s.state.t.size == 0:
        raise ExportError(f"{s.path}: no complete /joint_states sample for {len(s.names)} joints")
    if s.image_t.size == 0:
        raise ExportError(f"{s.path}: no camera frames")
    dt = 1.0 / control_rate_hz
    t0 = max(s.state.t[0], s.image_t[0])
    t1 = min(s.state.t[-1], s.image_t[-1] + dt)
    n = int(np.floor((t1 - t0) / dt + 1e-9)) + 1
    if n < 2:
        raise ExportError(f"{s.path}: shorter than two control periods after alignment")
    grid = t0 + dt * np.arange(n)
    img_i = hold_index(s.image_t, grid)
    st_i = hold_index(s.state.t, grid)
    proprio = s.state.values[st_i]
    if s.command.t.size:
        cmd_i = hold_index(s.command.t, grid + dt)
        action = np.where((cmd_i >= 0)[:, None], s.command.values[np.maximum(cmd_i, 0)], proprio)
    else:
        action = s.state.values[hold_index(s.state.t, grid + dt)]
    images = np.stack([s.images[i] for i in img_i]) if s.images else np.zeros((n, 0, 0, 3), np.uint8)
    if images.ndim == 3:  # mono -> 3 channels
        images = np.repeat(images[..., None], 3, axis=-1)
    inter = np.zeros(n, bool)
    for a, b in s.meta.interventions:
        inter |= (grid >= a) & (grid <= b)
    return {"timestamps": grid - grid[0], "t_abs": grid, "images": images.astype(np.uint8),
            "proprio": proprio.astype(np.float32), "action": action.astype(np.float32), "intervention": inter}


def _stats(arrays: list[np.ndarray]) -> dict[str, list[float]]:
    x = np.concatenate(arrays, axis=0).astype(np.float64)
    return {"mean": x.mean(0).tolist(), "std": x.std(0).tolist(), "min": x.min(0).tolist(),
            "max": x.max(0).tolist(), "count": [int(x.shape[0])]}


def export_dataset(episode_paths: Iterable[Path | str], out_dir: Path | str, control_rate_hz: float,
                   names: Sequence[str] = DEFAULT_NAMES, image_topic: str = IMAGE_TOPIC,
                   skip_bad: bool = False) -> DatasetInfo:
    """Export episodes (folders or .mcap files) into `out_dir`; returns what was written."""
    if control_rate_hz <= 0:
        raise ValueError(f"control_rate_hz must be > 0, got {control_rate_hz}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = tuple(names)
    entries, proprios, actions, skipped = [], [], [], []
    image_shape: list[int] = []
    for path in map(Path, episode_paths):
        try:
            s = read_streams(path, names, image_topic)
            arr = align_episode(s, control_rate_hz)
        except (ExportError, FileNotFoundError, ValueError) as e:
            if not skip_bad:
                raise ExportError(str(e)) from None
            skipped.append(f"{path}: {e}")
            continue
        if image_shape and list(arr["images"].shape[1:]) != image_shape:
            raise ExportError(f"{path}: image shape {arr['images'].shape[1:]} differs from {image_shape}")
        image_shape = list(arr["images"].shape[1:])
        idx = len(entries)
        fname = f"episode_{idx:06d}.npz"
        tmp = out / f".{fname}.tmp.npz"
        np.savez(tmp, **arr, instruction=np.str_(s.meta.instruction), task_id=np.str_(s.meta.task_id),
                 episode_id=np.str_(s.meta.episode_id))
        tmp.replace(out / fname)
        proprios.append(arr["proprio"])
        actions.append(arr["action"])
        entries.append({"file": fname, "episode_id": s.meta.episode_id, "task_id": s.meta.task_id,
                        "instruction": s.meta.instruction, "outcome": s.meta.outcome, "length": len(arr["t_abs"]),
                        "interventions": s.meta.interventions, "source": str(path.resolve())})
    if not entries:
        raise ExportError("no episode could be exported" + (": " + "; ".join(skipped) if skipped else ""))
    stats = {"proprio": _stats(proprios), "action": _stats(actions)}
    info = DatasetInfo(out, float(control_rate_hz), list(names), len(entries), int(sum(e["length"] for e in entries)),
                       image_shape, stats, entries, skipped)
    meta = {"format": FORMAT, "version": VERSION, "fps": info.fps, "proprio_names": list(names),
            "action_names": list(names), "action_semantics": "absolute joint targets (rad) + hand closures (0..1), "
            "commanded for the next control period", "image_shape": image_shape, "num_frames": info.num_frames,
            "stats": stats, "episodes": entries}
    atomic_write_text(out / "meta.json", json.dumps(meta, indent=2) + "\n")
    return info


class PostTrainDataset:
    """Numpy access to an exported dataset (wrap it in a torch Dataset for training)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        meta_path = self.root / "meta.json"
        try:
            self.meta = json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{meta_path}: not an exported dataset (no meta.json)") from None
        if self.meta.get("format") != FORMAT:
            raise ValueError(f"{meta_path}: field 'format' is {self.meta.get('format')!r}, expected {FORMAT!r}")
        self.fps: float = self.meta["fps"]
        self.action_names: list[str] = self.meta["action_names"]
        self.proprio_names: list[str] = self.meta["proprio_names"]
        self.stats: dict[str, dict[str, np.ndarray]] = {
            k: {s: np.asarray(v, dtype=np.float32) for s, v in d.items()} for k, d in self.meta["stats"].items()}
        self.episodes: list[dict[str, Any]] = self.meta["episodes"]
        self._offsets = np.cumsum([0] + [e["length"] for e in self.episodes])
        self._cache: dict[int, dict[str, np.ndarray]] = {}

    def __len__(self) -> int:
        return int(self._offsets[-1])

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    def episode(self, i: int) -> dict[str, Any]:
        if i not in self._cache:
            if len(self._cache) > 8:
                self._cache.pop(next(iter(self._cache)))
            with np.load(self.root / self.episodes[i]["file"]) as z:
                self._cache[i] = {k: z[k] for k in z.files}
        return self._cache[i]

    def locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"frame {index} out of range 0..{len(self) - 1}")
        ep = int(np.searchsorted(self._offsets, index, side="right") - 1)
        return ep, int(index - self._offsets[ep])

    def frame(self, index: int, horizon: int = 1) -> dict[str, Any]:
        """One frame; `horizon` > 1 returns the next `horizon` actions (padded with the last) for chunked heads."""
        ep, k = self.locate(index)
        e = self.episode(ep)
        a = e["action"]
        idx = np.minimum(np.arange(k, k + horizon), len(a) - 1)
        return {"image": e["images"][k], "proprio": e["proprio"][k], "action": a[idx] if horizon > 1 else a[k],
                "timestamp": float(e["timestamps"][k]), "instruction": str(e["instruction"]),
                "intervention": bool(e["intervention"][k]), "episode_index": ep, "frame_index": k}


def load_dataset(root: Path | str) -> PostTrainDataset:
    return PostTrainDataset(root)


def info_dict(info: DatasetInfo) -> dict[str, Any]:
    d = asdict(info)
    d["out_dir"] = str(info.out_dir)
    return d
