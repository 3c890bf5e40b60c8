"""The data-efficiency study's demos: one task's episodes of a dataset, cut into nested fractions.

Input is either an exported dataset (the recorder's export, `meta.json`, as `make train-default` writes
into <work>/dataset; or the post-training `.npz` format, `dataset.json`) or a record folder (`being-h0
record --out`, with its ledger), which is exported here first.  Only the episodes of one task are used,
in dataset order (for `make train-default` that is scene-seed order, 1000, 1001, ...).

A fraction f keeps the first ceil(f * N) of those N episodes, so the subsets are nested
(25% of the demos inside 50% inside 100%) and the same on every run.  Each subset is a small
index folder (`subsets/pct_NNN/`) whose meta file lists its episodes and points at the source
files: nothing is copied, and what each cell was trained on can be read back from disk.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .demos import being_h0, kept_folders
from .recipes import StageFailed, check_stage

RECORDER_META = "meta.json"  # recording/export.py
NPZ_META = "dataset.json"  # posttrain/data.py save_episodes


@dataclass(frozen=True)
class TaskEpisodes:
    """One task's episodes in a dataset: their ids and meta entries, in dataset order."""

    dataset: Path
    meta_name: str  # RECORDER_META or NPZ_META
    meta: dict
    entries: list  # recorder: episode dicts; npz: file names
    ids: list[str]

    def fingerprint(self) -> dict:
        digest = hashlib.sha256("\n".join(self.ids).encode()).hexdigest()[:16]
        return {"dataset": str(self.dataset.resolve()), "episodes": len(self.ids), "ids_sha256": digest}


def export_demos(demos: Path, work: Path) -> Path:
    """Export every kept demo of a record folder (ledger order) into <work>/dataset, once."""
    folders = kept_folders(demos, 10**9)
    if not folders:
        raise StageFailed(f"{demos}: no kept demos (expected a `being-h0 record --out` folder with its ledger)", 2)
    data = work / "dataset"
    settings = {"demos": str(demos.resolve()), "folders": [f.name for f in folders]}
    if (data / RECORDER_META).exists():
        check_stage(data, settings)  # the record folder grew or changed: refused, not mixed in
        print(f"reusing {data} ({len(folders)} demos)", flush=True)
        return data
    print(f"\n=== exporting {len(folders)} demos of {demos} ===", flush=True)
    tmp = work / "dataset.tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # what a cut-off export left
    code = being_h0("dataset", "export", *map(str, folders), "--out", str(tmp), "--rate", "10")
    if code or not (tmp / RECORDER_META).exists():
        raise StageFailed(f"exporting {demos} failed (being-h0 dataset export exited {code})")
    check_stage(tmp, settings)
    tmp.rename(data)
    return data


def task_episodes(dataset: Path, task: str) -> TaskEpisodes:
    """The episodes of `task` in `dataset` (either format); StageFailed naming the file when there are none."""
    if (dataset / RECORDER_META).exists():
        meta = json.loads((dataset / RECORDER_META).read_text())
        entries = [e for e in meta.get("episodes", []) if e.get("task_id", "") == task]
        ids = [str(e.get("episode_id") or e["file"]) for e in entries]
        found = sorted({e.get("task_id", "") for e in meta.get("episodes", [])})
        name = RECORDER_META
    elif (dataset / NPZ_META).exists():
        meta = json.loads((dataset / NPZ_META).read_text())
        entries, found_set = [], set()
        for f in meta.get("episodes", []):
            with np.load(dataset / f) as z:
                tid = str(z["task_id"]) if "task_id" in z.files else ""
            found_set.add(tid)
            if tid == task:
                entries.append(f)
        ids, found, name = [Path(f).stem for f in entries], sorted(found_set), NPZ_META
    else:
        raise StageFailed(f"{dataset}: no {RECORDER_META} (recorder export) or {NPZ_META} (post-training npz)", 2)
    if not entries:
        raise StageFailed(f"{dataset / name}: no episode of task {task!r} (task ids there: {found})", 2)
    return TaskEpisodes(dataset, name, meta, entries, ids)


def subset_size(fraction: float, total: int) -> int:
    """Episodes a fraction keeps: ceil(f * N), at least 1 (rounding up keeps 25% of 6 demos at 2, not 1)."""
    if not 0 < fraction <= 1:
        raise StageFailed(f"--fractions: {fraction} is not in (0, 1]", 2)
    return max(1, math.ceil(fraction * total - 1e-9))


def write_subset(eps: TaskEpisodes, fraction: float, out: Path) -> Path:
    """`out`: a dataset folder of the first `subset_size` episodes, pointing at the source files.

    Rewritten whole (write-then-rename) only when missing or different, so a finished cell's
    training data stays byte-identical.
    """
    n = subset_size(fraction, len(eps.ids))
    rel = os.path.relpath(eps.dataset.resolve(), out.resolve())
    meta = dict(eps.meta)
    if eps.meta_name == RECORDER_META:
        meta["episodes"] = [{**e, "file": f"{rel}/{e['file']}"} for e in eps.entries[:n]]
        meta["num_frames"] = int(sum(e.get("length", 0) for e in meta["episodes"]))
    else:
        meta["episodes"] = [f"{rel}/{f}" for f in eps.entries[:n]]
    meta["subset_of"] = {**eps.fingerprint(), "fraction": fraction, "kept": n, "episode_ids": eps.ids[:n]}
    text = json.dumps(meta, indent=2)
    path = out / eps.meta_name
    if path.exists() and path.read_text() == text:
        return out
    out.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    instructions = eps.dataset / "instructions.json"  # the task's paraphrases, when the dataset carries them
    if instructions.exists():
        (out / "instructions.json").write_text(instructions.read_text())
    return out


def subset_ids(subset: Path) -> list[str]:
    """The episode ids a subset folder lists (what its cell is trained on)."""
    for name in (RECORDER_META, NPZ_META):
        if (subset / name).exists():
            return list(json.loads((subset / name).read_text())["subset_of"]["episode_ids"])
    raise FileNotFoundError(f"{subset}: not a subset folder")


def demo_seeds(eps: TaskEpisodes, task: str) -> set[int] | None:
    """Scene seeds the demos were recorded with, when the dataset says (None: it does not).

    From `make train-default`'s stage.json beside the dataset (demo_seed_base, per-task count), else
    from each recorded episode's ledger (record_log.jsonl next to its source folder).
    """
    stage = eps.dataset / "stage.json"
    if stage.exists():
        s = json.loads(stage.read_text())
        if "demo_seed_base" in s and task in s.get("tasks", {}):
            return set(range(int(s["demo_seed_base"]), int(s["demo_seed_base"]) + int(s["tasks"][task])))
    ledgers: dict[Path, dict[str, int]] = {}  # ledger -> folder name -> seed
    seeds: set[int] = set()
    for e in eps.entries:
        src = Path(e["source"]) if isinstance(e, dict) and e.get("source") else None
        ledger = src.parent / "record_log.jsonl" if src else None
        if src is None or ledger is None or not ledger.exists():
            return None
        if ledger not in ledgers:
            ledgers[ledger] = {}
            for line in ledger.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a kill
                if row.get("folder"):
                    ledgers[ledger][row["folder"]] = int(row["seed"])
        if src.name not in ledgers[ledger]:
            return None
        seeds.add(ledgers[ledger][src.name])
    return seeds or None
