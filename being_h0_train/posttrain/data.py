"""Post-training data: episodes -> (image, instruction, proprio, next action chunk) windows.

Why a small protocol of our own: the recorder's dataset export
(``being_h0_runtime.recording``) turns rosbag2/MCAP episodes into numpy
episodes; post-training only needs, per episode, the camera frames, the
proprio and action arrays on a common time base, and the instruction. Any
source that yields ``Episode`` objects (the recorder's loader through
``load_episodes``, synthetic data, a user's own converter) can be trained on.

- ``Episode`` / ``EpisodeSet``: the protocol (names + control rate ride along).
- ``load_episodes(path)``: the recorder's export directory (via its
  ``load_dataset``) or an ``.npz`` directory written by ``save_episodes``.
- ``synthetic_episodes``: small episodes whose actions are a smooth function
  of the image colour, the instruction and the proprio (for tests/demos).
- ``split_by_episode``: train/val split that never splits an episode.
- ``WindowDataset`` + ``collate``: tiles (``policy.preprocess``, the same code
  the runtime runs), token ids, normalised proprio, action chunk + valid mask.
- ``ImageAugment``: random resized crop + colour jitter in torch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from being_h0_runtime.policy.models.posttrain import NormStats
from being_h0_runtime.policy.preprocess import PromptEncoder, TilePreprocessor

DATASET_META = "dataset.json"


@dataclass
class Episode:
    """One demonstration, all arrays on the control time base (row t = step t)."""

    images: np.ndarray  # (T, H, W, 3) uint8 RGB
    proprio: np.ndarray  # (T, P) float
    actions: np.ndarray  # (T, A) float: command issued after observing step t
    instruction: str
    episode_id: str = ""
    #: (T,) bool: step t was driven by a human who took over from the policy (DAgger), or None (no labels)
    intervention: np.ndarray | None = None
    #: the task this demonstration belongs to (tasks/<id>.yaml); "" when the source does not say
    task_id: str = ""

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.intervention is not None:
            self.intervention = np.asarray(self.intervention, dtype=bool)
            if self.intervention.shape != (n,):
                raise ValueError(f"episode {self.episode_id!r}: intervention must be ({n},) like the images, "
                                 f"got {self.intervention.shape}")
        if self.images.ndim != 4 or self.images.shape[-1] != 3:
            raise ValueError(f"episode {self.episode_id!r}: images must be (T, H, W, 3), got {self.images.shape}")
        if len(self.proprio) != n or len(self.actions) != n:
            raise ValueError(
                f"episode {self.episode_id!r}: {n} images, {len(self.proprio)} proprio rows, {len(self.actions)} action rows"
            )
        if n == 0:
            raise ValueError(f"episode {self.episode_id!r} is empty")

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class EpisodeSet:
    episodes: list[Episode]
    action_names: list[str]
    proprio_names: list[str]
    control_rate_hz: float = 10.0
    action_units: list[str] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        for ep in self.episodes:
            if ep.actions.shape[1] != len(self.action_names) or ep.proprio.shape[1] != len(self.proprio_names):
                raise ValueError(
                    f"{self.source or 'dataset'}: episode {ep.episode_id!r} has {ep.actions.shape[1]} action / "
                    f"{ep.proprio.shape[1]} proprio dims; names declare {len(self.action_names)} / {len(self.proprio_names)}"
                )


# ----------------------------------------------------------------------------- loading
def compact_images(images: np.ndarray, size: int | None) -> np.ndarray:
    """Frames resized to (size, size) uint8, or unchanged when size is None or already that size.

    A single-tile backbone without thumbnail squashes every frame to one
    size x size tile anyway; doing that once at load keeps a few hundred
    episodes in memory (320x240 -> 128x128 is 4.7x smaller).  The tile
    preprocessor's resize is then the identity, so only the uint8 rounding
    of the resized pixels differs from tiling the full frame.
    """
    if size is None or images.shape[1:3] == (size, size):
        return images
    from being_h0_runtime.policy.preprocess import resize_bilinear

    out = np.empty((len(images), size, size, 3), np.uint8)
    for i, im in enumerate(images):
        out[i] = np.clip(np.rint(resize_bilinear(im, size, size)), 0, 255)
    return out


def _from_recorder(ds: Any, source: str, image_size: int | None = None) -> EpisodeSet:
    """Adapt the recorder's ``PostTrainDataset`` (``recording.export.load_dataset``) to an ``EpisodeSet``.

    Its per-episode ``action`` rows are the commanded next targets at each
    control tick, which is exactly our "action issued after observing step t".
    """
    eps = []
    for i in range(ds.num_episodes):
        e = ds.episode(i)
        eps.append(Episode(
            images=compact_images(np.asarray(e["images"]), image_size),
            proprio=np.asarray(e["proprio"], np.float32),
            actions=np.asarray(e["action"], np.float32),
            instruction=str(e.get("instruction", "")),
            episode_id=str(e.get("episode_id", "") or ds.episodes[i].get("episode_id", i)),
            intervention=np.asarray(e["intervention"], bool) if "intervention" in e else None,
            task_id=str(e.get("task_id", "") or ds.episodes[i].get("task_id", "")),
        ))
    return EpisodeSet(eps, list(ds.action_names), list(ds.proprio_names), float(ds.fps), source=source)


def load_episodes(path: str | Path, image_size: int | None = None) -> EpisodeSet:
    """Load a dataset directory: our ``save_episodes`` format, else the recorder's export.

    image_size: resize every frame to image_size x image_size while loading
    (see ``compact_images``); None keeps the recorded size.
    """
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"{p}: dataset directory not found")
    meta_path = p / DATASET_META
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("format") == "being_h0_posttrain_npz":
            eps = []
            for name in meta["episodes"]:
                z = np.load(p / name)
                eps.append(Episode(compact_images(z["images"], image_size), z["proprio"].astype(np.float32), z["actions"].astype(np.float32),
                                   str(z["instruction"]), Path(name).stem,
                                   z["intervention"] if "intervention" in z.files else None,
                                   str(z["task_id"]) if "task_id" in z.files else ""))
            return EpisodeSet(eps, meta["action_names"], meta["proprio_names"], float(meta["control_rate_hz"]),
                              meta.get("action_units", []), source=str(p))
    if (p / "meta.json").exists():  # the recorder's export (recording/export.py)
        from being_h0_runtime.recording.export import load_dataset

        return _from_recorder(load_dataset(p), str(p), image_size)
    raise ValueError(f"{p}: neither a recorder export (meta.json) nor a {DATASET_META} "
                     "of format being_h0_posttrain_npz")


def load_proprio_pool(path: str | Path) -> tuple[np.ndarray, tuple[int, int]]:
    """All proprio rows of a dataset and its camera frame size (width, height), without keeping images."""
    p = Path(path)
    files: list[Path] = []
    if (p / DATASET_META).exists():
        files = [p / n for n in json.loads((p / DATASET_META).read_text())["episodes"]]
    elif (p / "meta.json").exists():
        files = [p / e["file"] for e in json.loads((p / "meta.json").read_text())["episodes"]]
    if not files:
        raise ValueError(f"{p}: no episodes (expected a recorder export or a {DATASET_META} dataset)")
    rows = []
    for f in files:
        with np.load(f) as z:
            rows.append(np.asarray(z["proprio"], np.float32))
    with np.load(files[0]) as z:
        h, w = z["images"].shape[1:3]
    return np.concatenate(rows), (int(w), int(h))


def save_episodes(eset: EpisodeSet, path: str | Path) -> Path:
    """Write ``eset`` as one compressed ``.npz`` per episode + ``dataset.json``."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    names = []
    for i, ep in enumerate(eset.episodes):
        name = f"episode_{i:05d}.npz"
        extra = {} if ep.intervention is None else {"intervention": ep.intervention}
        if ep.task_id:
            extra["task_id"] = np.asarray(ep.task_id)
        np.savez_compressed(p / name, images=ep.images, proprio=ep.proprio, actions=ep.actions,
                            instruction=np.asarray(ep.instruction), **extra)
        names.append(name)
    meta = {"format": "being_h0_posttrain_npz", "episodes": names, "action_names": list(eset.action_names),
                "proprio_names": list(eset.proprio_names), "control_rate_hz": eset.control_rate_hz,
                "action_units": list(eset.action_units)}
    (p / DATASET_META).write_text(json.dumps(meta, indent=2))
    return p


def synthetic_episodes(
    n_episodes: int = 4,
    length: int = 24,
    names: Sequence[str] | None = None,
    image_hw: tuple[int, int] = (48, 64),
    seed: int = 0,
    instructions: Sequence[str] = ("pick up the toy", "open the drawer"),
) -> EpisodeSet:
    """Episodes whose next actions depend on proprio, instruction and image colour (learnable)."""
    from being_h0_runtime.rig import ARM_JOINT_NAMES, HAND_DOF_NAMES

    names = list(names) if names else list(ARM_JOINT_NAMES) + list(HAND_DOF_NAMES)
    d = len(names)
    rng = np.random.default_rng(seed)
    eps = []
    for e in range(n_episodes):
        instr = instructions[e % len(instructions)]
        goal = rng.uniform(-0.5, 0.5, d).astype(np.float32)
        q = np.zeros((length + 1, d), np.float32)
        q[0] = rng.uniform(-0.3, 0.3, d)
        for t in range(length):
            q[t + 1] = q[t] + 0.2 * (goal - q[t])
        h, w = image_hw
        imgs = np.zeros((length, h, w, 3), np.uint8)
        colour = ((goal[:3] + 0.5) * 255).clip(0, 255).astype(np.uint8)
        imgs[:] = colour
        for t in range(length):  # a moving bright square encodes time
            x = int((w - 8) * t / max(1, length - 1))
            imgs[t, h // 2 - 4: h // 2 + 4, x: x + 8] = 255
        eps.append(Episode(imgs, q[:-1].copy(), q[1:].copy(), instr, f"synthetic_{e:03d}"))
    return EpisodeSet(eps, names, list(names), 10.0, source="synthetic")


def split_by_episode(eset: EpisodeSet, val_fraction: float, seed: int = 0) -> tuple[list[Episode], list[Episode]]:
    """Shuffle episodes (seeded) and hold out ``val_fraction`` of them (at least one if > 0)."""
    n = len(eset.episodes)
    if n == 0:
        raise ValueError("dataset has no episodes")
    order = np.random.default_rng(seed).permutation(n)
    n_val = 0 if val_fraction <= 0 else max(1, round(n * val_fraction))
    if n_val >= n:
        n_val = n - 1
    val = [eset.episodes[i] for i in sorted(order[:n_val])]
    train = [eset.episodes[i] for i in sorted(order[n_val:])]
    return train, val


def compute_stats(episodes: Sequence[Episode]) -> NormStats:
    """Per-dimension mean/std of actions and proprio over all steps of ``episodes``."""
    return NormStats.from_arrays(np.concatenate([e.actions for e in episodes]),
                                 np.concatenate([e.proprio for e in episodes]))


# ----------------------------------------------------------------------------- augmentation
@dataclass
class ImageAugment:
    """Random resized crop (output keeps the input size) + brightness/contrast/saturation jitter.

    ``crop=False`` keeps only the colour jitter: with a fixed camera, where a
    thing is in the image *is* where it is on the table, and cropping would
    teach the policy that pixel positions mean nothing.
    """

    crop: bool = True
    crop_scale: tuple[float, float] = (0.8, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().unsqueeze(0)  # (1,3,H,W)
        if self.crop:
            x = self._crop(x, rng)
        b = 1 + rng.uniform(-self.brightness, self.brightness)
        c = 1 + rng.uniform(-self.contrast, self.contrast)
        s = 1 + rng.uniform(-self.saturation, self.saturation)
        x = x * b
        gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
        x = (x - gray.mean()) * c + gray.mean()
        gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
        x = (x - gray) * s + gray
        return x.clamp(0, 255).round().to(torch.uint8)[0].permute(1, 2, 0).numpy()

    def _crop(self, x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        _, _, h, w = x.shape
        area = h * w
        for _ in range(10):
            a = area * rng.uniform(*self.crop_scale)
            r = float(np.exp(rng.uniform(np.log(self.crop_ratio[0]), np.log(self.crop_ratio[1]))))
            cw, ch = round((a * r) ** 0.5), round((a / r) ** 0.5)
            if 0 < cw <= w and 0 < ch <= h:
                break
        else:
            cw, ch = w, h
        y0 = int(rng.integers(0, h - ch + 1))
        x0 = int(rng.integers(0, w - cw + 1))
        x = x[:, :, y0:y0 + ch, x0:x0 + cw]
        return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)


# ----------------------------------------------------------------------------- windows
class WindowDataset:
    """Every step t of every episode: obs at t -> actions[t : t + chunk_len] (padded with the last)."""

    def __init__(
        self,
        episodes: Sequence[Episode],
        chunk_len: int,
        tiles: TilePreprocessor,
        prompt: PromptEncoder,
        stats: NormStats,
        augment: ImageAugment | None = None,
        intervention_weight: float = 1.0,
        instructions: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        if not episodes:
            raise ValueError("WindowDataset needs at least one episode")
        if not intervention_weight > 0:
            raise ValueError(f"intervention_weight must be > 0, got {intervention_weight}")
        #: loss weight of target steps a human drove after taking over (DAgger corrections), others weigh 1
        self.intervention_weight = float(intervention_weight)
        self.episodes = list(episodes)
        self.chunk_len = chunk_len
        self.tiles = tiles
        self.prompt = prompt
        self.stats = stats
        self.augment = augment
        #: task id -> the phrasings of its instruction (tasks/<id>.yaml `instructions`); None: as recorded
        self.instructions = {k: list(v) for k, v in (instructions or {}).items() if v}
        self.index = [(e, t) for e, ep in enumerate(self.episodes) for t in range(len(ep))]

    def instruction(self, ep: Episode, rng: np.random.Generator | None = None) -> str:
        """The words a window of `ep` is trained with: a phrasing of its task's instruction, drawn with `rng`.

        Drawn per window, so every scene is seen with every phrasing; without `rng` (evaluation) the
        task's first phrasing; an episode whose task has no list keeps its recorded instruction.
        """
        options = self.instructions.get(ep.task_id)
        if not options:
            return ep.instruction
        if rng is None or len(options) == 1:
            return options[0]
        return options[int(rng.integers(len(options)))]

    def __len__(self) -> int:
        return len(self.index)

    def chunk(self, ep: Episode, t: int) -> tuple[np.ndarray, np.ndarray]:
        idx = np.arange(t, t + self.chunk_len)
        valid = idx < len(ep)
        return ep.actions[np.minimum(idx, len(ep) - 1)].astype(np.float32), valid

    def weights(self, ep: Episode, t: int, valid: np.ndarray) -> np.ndarray:
        """Per chunk step loss weight: 0 past the end, `intervention_weight` on human-corrected targets, else 1."""
        w = valid.astype(np.float32)
        if ep.intervention is not None and self.intervention_weight != 1.0:
            idx = np.minimum(np.arange(t, t + self.chunk_len), len(ep) - 1)
            w = np.where(ep.intervention[idx], w * self.intervention_weight, w).astype(np.float32)
        return w

    def get(self, i: int, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        e, t = self.index[i]
        ep = self.episodes[e]
        img = ep.images[t]
        if self.augment is not None and rng is not None:
            img = self.augment(img, rng)
        actions, valid = self.chunk(ep, t)
        s = self.stats
        return {
            "pixel_values": self.tiles(img),
            "input_ids": self.prompt(self.instruction(ep, rng))[0],
            "proprio": ((ep.proprio[t] - s.proprio_mean) / s.proprio_std).astype(np.float32),
            "actions": ((actions - s.action_mean) / s.action_std).astype(np.float32),
            "valid": valid,
            "weight": self.weights(ep, t, valid),
        }

    def batch(self, indices: Sequence[int], rng: np.random.Generator | None = None, pad_id: int = 0) -> dict[str, torch.Tensor]:
        return collate([self.get(int(i), rng) for i in indices], pad_id)


def collate(items: Sequence[dict[str, np.ndarray]], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Stack samples; instruction ids are right-padded and masked (``text_mask``)."""
    tiles = {it["pixel_values"].shape for it in items}
    if len(tiles) != 1:
        raise ValueError(f"samples in one batch have different tile shapes {sorted(tiles)}; "
                         "all camera frames of a dataset must have the same size")
    n = max(len(it["input_ids"]) for it in items)
    ids = np.full((len(items), n), pad_id, np.int64)
    mask = np.zeros((len(items), n), np.int64)
    for i, it in enumerate(items):
        ids[i, : len(it["input_ids"])] = it["input_ids"]
        mask[i, : len(it["input_ids"])] = 1
    return {
        "pixel_values": torch.from_numpy(np.stack([it["pixel_values"] for it in items])),
        "input_ids": torch.from_numpy(ids),
        "text_mask": torch.from_numpy(mask),
        "proprio": torch.from_numpy(np.stack([it["proprio"] for it in items])),
        "actions": torch.from_numpy(np.stack([it["actions"] for it in items])),
        "valid": torch.from_numpy(np.stack([it["valid"] for it in items])),
        **({"weight": torch.from_numpy(np.stack([it["weight"] for it in items]))} if "weight" in items[0] else {}),
    }
