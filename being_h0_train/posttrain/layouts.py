"""Rendered scene layouts for the vision warm-up: pictures of every task's scene and where its objects are.

For each task the warm-up learns the positions that matter to it, read from the simulator state
right after the scene's seeded reset (what ``VirtualRig.reset`` draws for an episode):

  pick_place_toy  the toy (x, y, heading mod 90 deg as cos/sin of 4 yaw) and the box (x, y, yaw)
  close_lid       the lidded box (x, y, yaw) and how far its lid is open (hinge angle)
  close_toolbox   the toolbox (x, y, yaw) and its lid's hinge angle
  pour_cup        the cup (x, y, heading mod 90 deg) and the bowl (x, y, yaw)
  unfold_clothes  three landmarks of the folded cloth (x, y) and the area it covers (fraction)

A target is named ``<object>_<kind>``: kinds x, y, yaw, cos4yaw, sin4yaw come from the object's
pose (``VirtualRig.object_poses``), the others from ``VirtualRig.task_state`` (``STATE_KINDS``).
Several tasks share one target vector, the concatenation of their names; a sample's columns of
other tasks are NaN (and masked out of the loss).

Layouts are rendered in chunks of ``CHUNK`` from fixed scene seeds, each chunk one task in turn,
and each finished chunk is saved (``cache``), so an interrupted render resumes chunk by chunk.
Layouts are drawn in the ``seen`` or the ``train`` variation (``render_layouts(variation=...)``); the bench's
unseen objects and clutter never are (``sim/train_variation.py`` keeps ``train`` clear of them).
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..common import GracefulStop

TASK_TARGETS: dict[str, tuple[str, ...]] = {
    "pick_place_toy": ("toy_x", "toy_y", "toy_cos4yaw", "toy_sin4yaw", "box_x", "box_y", "box_yaw"),
    "close_lid": ("lidbox_x", "lidbox_y", "lidbox_yaw", "lidbox_hinge"),
    "close_toolbox": ("toolbox_x", "toolbox_y", "toolbox_yaw", "toolbox_hinge"),
    "pour_cup": ("cup_x", "cup_y", "cup_cos4yaw", "cup_sin4yaw", "bowl_x", "bowl_y", "bowl_yaw"),
    "unfold_clothes": ("cloth_pt00_x", "cloth_pt00_y", "cloth_pt11_x", "cloth_pt11_y", "cloth_pt22_x",
                       "cloth_pt22_y", "cloth_coverage"),
}
#: target kinds read from VirtualRig.task_state (kind -> its key there)
STATE_KINDS = {"hinge": "hinge_angle", "coverage": "coverage"}
#: layouts per render chunk (one task, one rig, consecutive scene seeds)
CHUNK = 250


def target_names(tasks: Sequence[str]) -> tuple[str, ...]:
    """The shared target vector of `tasks`: their names concatenated in task order."""
    unknown = [t for t in tasks if t not in TASK_TARGETS]
    if unknown:
        raise ValueError(f"vision warm-up: no targets for task(s) {unknown}; known: {', '.join(TASK_TARGETS)}")
    return tuple(n for t in tasks for n in TASK_TARGETS[t])


def _yaw(q_xyzw: np.ndarray) -> float:
    x, y, z, w = q_xyzw
    return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def target_value(name: str, poses: dict[str, tuple[np.ndarray, np.ndarray]], state: dict[str, float]) -> float:
    """One named target from the rig's object poses and task state (see the module docstring)."""
    obj, kind = name.rsplit("_", 1)
    if kind in STATE_KINDS:
        return float(state[STATE_KINDS[kind]])
    pos, quat = poses[obj]
    pose_kinds = {"x": lambda: pos[0], "y": lambda: pos[1], "yaw": lambda: _yaw(quat),
                  "cos4yaw": lambda: math.cos(4 * _yaw(quat)), "sin4yaw": lambda: math.sin(4 * _yaw(quat))}
    return float(pose_kinds[kind]())


@dataclass
class Layouts:
    images: np.ndarray  # (n, tile, tile, 3) uint8
    targets: np.ndarray  # (n, len(names)) float32, NaN in other tasks' columns
    proprio: np.ndarray  # (n, 13): the arm + hand pose each picture was posed with
    task: np.ndarray  # (n,) int: index into `tasks`
    tasks: tuple[str, ...]
    names: tuple[str, ...]
    #: (n,) bool: rows rendered in the bench's seen scenes mixed into another variation's (None: not mixed)
    seen: np.ndarray | None = None

    def mask(self) -> np.ndarray:
        """(n, len(names)) bool: the columns each sample's task defines."""
        return ~np.isnan(self.targets)

    def concat(self, seen: Layouts) -> Layouts:
        """These rows followed by `seen`'s (the same tasks and targets), with `seen` marking the latter."""
        if seen.tasks != self.tasks or seen.names != self.names:
            raise ValueError(f"cannot mix layouts of {seen.tasks} into layouts of {self.tasks}")
        mark = np.concatenate([np.zeros(len(self.images), bool), np.ones(len(seen.images), bool)])
        return Layouts(*(np.concatenate([getattr(self, f), getattr(seen, f)])
                         for f in ("images", "targets", "proprio", "task")), self.tasks, self.names, mark)


def _render_chunk(args: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Worker: `n` layouts of `task` with scene seeds from `seed`: images, the task's targets, proprio rows."""
    n, seed, frame_size, tile, proprio_pool, task, variation = args
    os.environ.setdefault("MUJOCO_GL", "egl")
    from being_h0_runtime.sim.world import VirtualRig
    from being_h0_train.posttrain.data import compact_images

    names = TASK_TARGETS[task]
    rig = VirtualRig(task, variation, seed=seed, image_size=frame_size)
    rng = np.random.default_rng([seed, 1])
    images = np.empty((n, tile, tile, 3), np.uint8)
    targets = np.empty((n, len(names)), np.float32)
    rows = np.empty((n, 13), np.float32)
    try:
        for i in range(n):
            rig.reset(seed + i)  # objects placed exactly as an episode's reset places them
            row = proprio_pool[rng.integers(len(proprio_pool))]
            rows[i] = row[:13]
            rig.set_pose(row[:7], row[7:13])
            images[i] = compact_images(rig.render_rgb()[None], tile)[0]
            poses, state = rig.object_poses(), rig.task_state()
            targets[i] = [target_value(name, poses, state) for name in names]
    finally:
        rig.close()
    return images, targets, rows


def _pool_for(pools: dict[str, np.ndarray] | np.ndarray, task: str) -> np.ndarray:
    """The arm/hand rows of `task`'s demos (the arm occludes where it will), else every row."""
    if isinstance(pools, dict):
        rows = pools.get(task)
        pool = rows if rows is not None and len(rows) else np.concatenate(list(pools.values()))
    else:
        pool = pools
    pool = np.asarray(pool, np.float64)
    if pool.ndim != 2 or pool.shape[1] < 13 or len(pool) == 0:
        raise ValueError(f"proprio_pool must be (M, >=13) arm+hand rows, got shape {pool.shape}")
    return pool


def render_layouts(n: int, frame_size: tuple[int, int], tile: int, proprio_pool: dict[str, np.ndarray] | np.ndarray,
                   seed: int = 0, jobs: int = 1, progress: bool = True, tasks: Sequence[str] = ("pick_place_toy",),
                   cache: Path | None = None, stop: GracefulStop | None = None, chunk: int = CHUNK,
                   variation: str = "seen") -> Layouts | None:
    """`n` renders of random layouts of `tasks` (chunk k: task k mod len) at the camera's `frame_size`, `tile` px.

    proprio_pool: arm + hand rows to pose the robot with, one array or one per task id.
    cache: a folder where finished chunks are kept; chunks found there are not rendered again.
    stop: when it is requested (SIGTERM / SIGINT) after a chunk, rendering ends and None is returned.
    variation: "seen", or "train" (random objects, distractors, light, table, camera jitter; never the bench's
    held-out unseen/clutter draws: sim/train_variation.py).
    """
    tasks = tuple(tasks)
    names = target_names(tasks)
    chunk = min(chunk, max(1, -(-n // len(tasks))))  # a small run still shows every task
    # scene seeds far from demo (1000+) and benchmark (0+) seeds so no layout is shared
    chunks = [(min(chunk, n - s), 10_000_000 + seed * 1_000_000 + s, tuple(frame_size), tile,
               _pool_for(proprio_pool, tasks[k % len(tasks)]), tasks[k % len(tasks)], variation)
              for k, s in enumerate(range(0, n, chunk))]
    # the name holds everything the chunk's content depends on (its length too: a cache left by a run with
    # another sample count was once loaded into the wrong rows); a file whose length still differs is redone
    paths = [cache / f"chunk_{k:05d}_{c[1]}_{c[0]}_{c[5]}_{variation}.npz" if cache else None
             for k, c in enumerate(chunks)]
    done = {k: _load(p) for k, p in enumerate(paths) if p is not None and p.exists()}
    done = {k: v for k, v in done.items() if len(v[0]) == len(v[1]) == len(v[2]) == chunks[k][0]}
    todo = [k for k in range(len(chunks)) if k not in done]
    bar = tqdm(total=n, initial=sum(chunks[k][0] for k in done), desc="rendering layouts", unit="img",
               disable=not progress)
    for k, result in zip(todo, _map(_render_chunk, [chunks[k] for k in todo], jobs)):
        done[k] = result
        if paths[k] is not None:
            _save(paths[k], result)
        bar.update(chunks[k][0])
        if stop is not None and stop.requested:
            break
    bar.close()
    if len(done) < len(chunks):
        return None
    targets = np.full((n, len(names)), np.nan, np.float32)
    task_index = np.concatenate([np.full(chunks[k][0], k % len(tasks)) for k in range(len(chunks))])
    off = 0
    for k in range(len(chunks)):
        cols = [names.index(x) for x in TASK_TARGETS[chunks[k][5]]]
        targets[off:off + chunks[k][0], cols] = done[k][1]
        off += chunks[k][0]
    return Layouts(np.concatenate([done[k][0] for k in range(len(chunks))]), targets,
                   np.concatenate([done[k][2] for k in range(len(chunks))]), task_index, tasks, names)


def _map(fn, items: list, jobs: int):
    """`map` in `jobs` spawned processes (a forked MuJoCo/EGL context is not safe to reuse), in order."""
    if jobs <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    import multiprocessing as mp

    # workers ignore Ctrl-C: the parent decides (it stops after the chunk in hand, see render_layouts)
    with mp.get_context("spawn").Pool(jobs, initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN)) as p:
        yield from p.imap(fn, items)


def _save(path: Path, arrays: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, images=arrays[0], targets=arrays[1], rows=arrays[2])
    tmp.replace(path)


def _load(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.load(path) as z:
        return z["images"], z["targets"], z["rows"]


def proprio_pools(data: str | Path) -> tuple[dict[str, np.ndarray], tuple[int, int]]:
    """A dataset's arm + hand rows per task id and its camera frame size (width, height), without images."""
    import json

    from .data import load_proprio_pool

    p = Path(data)
    if not (p / "meta.json").exists():  # a save_episodes dataset: no task ids in its index
        pool, size = load_proprio_pool(p)
        return {"": pool}, size
    entries = json.loads((p / "meta.json").read_text())["episodes"]
    rows: dict[str, list[np.ndarray]] = {}
    for e in entries:
        with np.load(p / e["file"]) as z:
            rows.setdefault(str(e.get("task_id", "")), []).append(np.asarray(z["proprio"], np.float32))
    if not rows:
        raise ValueError(f"{p}: no episodes")
    with np.load(p / entries[0]["file"]) as z:
        h, w = z["images"].shape[1:3]
    return {t: np.concatenate(r) for t, r in rows.items()}, (int(w), int(h))
