"""Several tasks in one post-training run: which words each task is trained with, and balanced batches.

- ``task_instructions(task_ids, tasks_dir)``: task id -> its ``instructions`` list from ``tasks/<id>.yaml``
  (the first phrasing is the one demos are recorded and benchmarks start with; the others are
  paraphrases the model is trained with so that it follows the meaning, not one string).
- ``read_instructions(path)`` / ``write_instructions(table, path)``: that table as JSON beside a dataset
  (``instructions.json``), so a dataset carries the words it is to be trained with.
- ``TaskBalancedSampler``: every task equally likely in a batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .data import WindowDataset

#: file beside a dataset's meta.json: {task id: [instruction, paraphrase, ...]}
INSTRUCTIONS_FILE = "instructions.json"


def task_instructions(task_ids: Iterable[str], tasks_dir: Path | None = None) -> dict[str, list[str]]:
    """Each task's wordings (its ``instructions``, then its ``paraphrases``), read from its task file
    (ConfigError names file and field)."""
    from being_h0_runtime.bench.tasks import load_task

    return {t: load_task(t, tasks_dir).phrasings for t in task_ids}


def write_instructions(table: dict[str, Sequence[str]], path: Path) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({k: list(v) for k, v in table.items()}, indent=2))
    tmp.replace(path)
    return path


def read_instructions(path: Path) -> dict[str, list[str]]:
    """An ``instructions.json``: a JSON object of task id -> non-empty list of non-empty strings."""
    try:
        raw = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not JSON ({err})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected an object of task id -> list of instructions")  # noqa: TRY004 (bad file content)
    for task, words in raw.items():
        if not (isinstance(words, list) and words and all(isinstance(w, str) and w.strip() for w in words)):
            raise ValueError(f"{path}: key {task!r}: expected a non-empty list of non-empty strings")
    return {k: list(v) for k, v in raw.items()}


class TaskBalancedSampler:
    """Draws window indices so that every task is equally likely, whatever its demo count and lengths.

    A task with long episodes (pouring) or many demos would otherwise dominate the batches; balanced,
    each task gets 1/T of the gradient. With one task the draw is the plain uniform one single-task
    runs always made (same generator calls), so their batches are unchanged.
    """

    def __init__(self, ds: WindowDataset) -> None:
        groups: dict[str, list[int]] = {}
        for i, (e, _) in enumerate(ds.index):
            groups.setdefault(ds.episodes[e].task_id, []).append(i)
        self.tasks = sorted(groups)
        self.groups = [np.asarray(groups[t]) for t in self.tasks]
        self.size = len(ds)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if len(self.groups) == 1:
            return rng.integers(0, self.size, size=n)
        which = rng.integers(0, len(self.groups), size=n)
        return np.array([self.groups[k][rng.integers(len(self.groups[k]))] for k in which], np.int64)
