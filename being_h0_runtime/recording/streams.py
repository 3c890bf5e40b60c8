"""Decode an episode into time series: merged joint states, merged commands, camera frames.

Timestamps are the recorder's receive times (MCAP log time, node clock), the
one clock every topic shares.  Joint states arrive per group (the arm and the
hand publish separately), so samples are merged by joint name with a
zero-order hold; a merged sample exists once every requested name has a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..msgs import Image, JointState
from ..msgs.convert import image_to_array
from ..rig import JOINT_NAMES as DEFAULT_NAMES
from .bag import iter_messages, load_metadata
from .compressed import CompressedImage, decompress_image
from .episode import EpisodeMetadata

IMAGE_TOPIC = "/camera/color/image_raw"
STATE_TOPIC = "/joint_states"
COMMAND_TOPICS = ("/arm/command", "/hand/command")


@dataclass
class Series:
    t: np.ndarray  # (N,) seconds
    values: np.ndarray  # (N, D)


@dataclass
class EpisodeStreams:
    path: Path
    meta: EpisodeMetadata
    names: tuple[str, ...]
    state: Series
    command: Series
    image_t: np.ndarray
    images: list[np.ndarray]
    topic_times: dict[str, np.ndarray] = field(default_factory=dict)
    nan_samples: int = 0


class _Merger:
    def __init__(self, names: tuple[str, ...]) -> None:
        self.index = {n: i for i, n in enumerate(names)}
        self.cur = np.full(len(names), np.nan)
        self.known = np.zeros(len(names), bool)
        self.t: list[float] = []
        self.v: list[np.ndarray] = []
        self.nan = 0

    def add(self, t: float, msg: JointState) -> None:
        hit = False
        for n, q in zip(msg.name, np.asarray(msg.position, dtype=float)):
            i = self.index.get(n)
            if i is not None:
                if not np.isfinite(q):
                    self.nan += 1
                self.cur[i] = q
                self.known[i] = True
                hit = True
        if hit and self.known.all():
            self.t.append(t)
            self.v.append(self.cur.copy())

    def series(self) -> Series:
        d = len(self.index)
        return Series(np.array(self.t), np.array(self.v).reshape(-1, d))


def read_streams(episode: Path, names: tuple[str, ...] = DEFAULT_NAMES, image_topic: str = IMAGE_TOPIC,
                 decode_images: bool = True) -> EpisodeStreams:
    episode = Path(episode)
    meta = load_metadata(episode)
    state, command = _Merger(names), _Merger(names)
    image_t: list[float] = []
    images: list[np.ndarray] = []
    times: dict[str, list[float]] = {}
    compressed_topic = image_topic + "/compressed"
    for topic, t_ns, msg in iter_messages(episode):
        t = t_ns * 1e-9
        times.setdefault(topic, []).append(t)
        if topic == STATE_TOPIC:
            state.add(t, msg)  # type: ignore[arg-type]
        elif topic in COMMAND_TOPICS:
            command.add(t, msg)  # type: ignore[arg-type]
        elif topic in (image_topic, compressed_topic):
            image_t.append(t)
            if decode_images:
                if isinstance(msg, CompressedImage):
                    images.append(decompress_image(msg))
                elif isinstance(msg, Image):
                    images.append(np.array(image_to_array(msg)))
    return EpisodeStreams(episode, meta, names, state.series(), command.series(), np.array(image_t), images,
                          {k: np.array(v) for k, v in times.items()}, state.nan + command.nan)


#: samples within this of a query time count as "at" it (simulated clocks accumulate float error)
TIME_EPS = 1e-6


def hold_index(t_samples: np.ndarray, t_query: np.ndarray) -> np.ndarray:
    """Index of the newest sample at or before each query time (-1 if none): a causal zero-order hold."""
    return np.searchsorted(t_samples, np.asarray(t_query) + TIME_EPS, side="right") - 1
