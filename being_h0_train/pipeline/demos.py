"""Stages 1-2 of `make train-default`: record every task's demos (resumable per episode), export one dataset.

Recording and export are runtime applications (`being-h0 record`, `being-h0 dataset export`); the
pipeline runs them as a user would, in child processes.  Each task records into demos/<task>/ with
`--resume`, so an interrupted run re-records only the episode that was cut off; the record
command's ledger (record_log.jsonl) names the kept folders in seed order, and they are exported
in that order, task after task, into one dataset whose episodes carry their task id and instruction.
Beside it, instructions.json holds every task's instruction list (tasks/<id>.yaml) for post-training.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..common import GracefulStop
from ..posttrain.tasks import INSTRUCTIONS_FILE, task_instructions, write_instructions
from .recipes import StageFailed, check_stage, stage_matches

#: the record command's ledger in each demos/<task>/ folder (recording/record_cli.py)
LEDGER = "record_log.jsonl"


def being_h0(*args: str) -> int:
    """Run a ``being-h0`` subcommand in a child process: the runtime's public command line, not its modules.

    A SIGTERM sent to the pipeline is passed on to the child, which stops cleanly (the record and
    bench commands resume from where they stopped); Ctrl-C reaches the child from the terminal
    itself.  The pipeline then stops too.
    """
    with GracefulStop() as stop:
        child = subprocess.Popen([sys.executable, "-m", "being_h0_runtime.cli", *args])
        passed_on = False
        while True:
            try:
                code = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stop.signal == signal.SIGTERM and not passed_on:
                    child.send_signal(signal.SIGTERM)
                    passed_on = True
    if stop.requested:
        raise StageFailed(f"stopped by signal {stop.signal} (being-h0 {args[0]} exited {code}); "
                          "run the same command again to resume", stop.exit_code())
    return code


def kept_folders(demos: Path, episodes: int) -> list[Path]:
    """The successful episodes 0..episodes-1 of a task's demos folder, in seed order (from its ledger)."""
    kept: dict[int, Path] = {}
    ledger = demos / LEDGER
    for line in ledger.read_text().splitlines() if ledger.exists() else []:
        try:
            e = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a kill
        if e["folder"] and e["index"] < episodes and (demos / e["folder"]).is_dir():
            kept[int(e["index"])] = demos / e["folder"]
    return [kept[i] for i in sorted(kept)]


def dataset_settings(tasks: dict[str, int], seed_base: int, variation: str = "seen") -> dict:
    return {"tasks": tasks, "demo_seed_base": seed_base, "variation": variation, "control_rate_hz": 10}


def record_and_export(tasks: dict[str, int], seed_base: int, jobs: int, work: Path,
                      timings: dict[str, float], variation: str = "seen") -> tuple[Path, dict[str, int]]:
    """Demos of every task, then one dataset; returns (dataset dir, kept demos per task)."""
    data = work / "dataset"
    settings = dataset_settings(tasks, seed_base, variation)
    t = time.monotonic()
    total = sum(tasks.values())
    print(f"\n=== 1/6 recording {total} demonstrations on the virtual rig "
          f"({', '.join(f'{k} {v}' for k, v in tasks.items())}), then 2/6: export ===", flush=True)
    if (data / "meta.json").exists() and stage_matches(data, settings):
        print(f"reusing {data}", flush=True)
        timings["record_s"] = time.monotonic() - t
        return data, _kept_per_task(data)
    for task, n in tasks.items():
        demos = work / "demos" / task
        print(f"--- {task}: {n} demos, scene seeds {seed_base}..{seed_base + n - 1}", flush=True)
        code = being_h0("record", "--task", task, "--episodes", str(n), "--out", str(demos), "--seed-base",
                        str(seed_base), "--jobs", str(jobs), "--console", "off", "--resume", "--variation", variation)
        if code and not kept_folders(demos, n):
            raise StageFailed(f"recording {task} failed (being-h0 record exited {code})")
    timings["record_s"] = time.monotonic() - t
    t = time.monotonic()
    folders = [f for task, n in tasks.items() for f in kept_folders(work / "demos" / task, n)]
    tmp = work / "dataset.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    code = being_h0("dataset", "export", *map(str, folders), "--out", str(tmp), "--rate", "10")
    if code or not (tmp / "meta.json").exists():
        raise StageFailed(f"exporting the demonstrations failed (being-h0 dataset export exited {code})")
    write_instructions(task_instructions(tasks), tmp / INSTRUCTIONS_FILE)
    shutil.rmtree(data, ignore_errors=True)
    check_stage(tmp, settings)
    tmp.rename(data)
    timings["export_s"] = time.monotonic() - t
    return data, _kept_per_task(data)


def _kept_per_task(data: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in json.loads((data / "meta.json").read_text())["episodes"]:
        counts[e.get("task_id", "")] = counts.get(e.get("task_id", ""), 0) + 1
    return counts


def image_use(engine_dir: Path, dataset: Path, episode_ids: list[str], horizon: int = 15) -> dict[str, float]:
    """Does the engine look at the camera?  Ratio of prediction spread to data spread at episode starts.

    At the first frame of every held-out episode the arm is at home, so the
    proprio is the same everywhere and only the image tells layouts apart.
    The spread (std over episodes) of the predicted arm target `horizon` steps
    ahead, divided by the spread of the recorded one, is ~1 for an engine that
    reads the layout and ~0 for one that ignores the image (then it cannot
    reach the toy, whatever its open-loop loss says -- measured here once).
    With several tasks the spread is taken per task and averaged.
    """
    import numpy as np

    from being_h0_runtime.policy.engine import load_engine_policy
    from being_h0_runtime.policy.spec import Observation

    meta = json.loads((dataset / "meta.json").read_text())
    entries = {e["episode_id"]: e for e in meta["episodes"]}
    policy = load_engine_policy(engine_dir, backend="onnxruntime")
    per_task: dict[str, tuple[list, list]] = {}
    for eid in episode_ids:
        with np.load(dataset / entries[eid]["file"]) as z:
            image, proprio, action, instr = z["images"][0], z["proprio"][0], z["action"], str(z["instruction"])
        obs = Observation(stamp=0.0, proprio=proprio, proprio_names=policy.spec.names, instruction=instr, image=image)
        pred, true = per_task.setdefault(entries[eid].get("task_id", ""), ([], []))
        pred.append(policy.infer(obs)[horizon, :7])
        true.append(action[min(horizon, len(action) - 1), :7])
    p_std = [float(np.mean(np.std(p, axis=0))) for p, _ in per_task.values() if len(p) > 1]
    t_std = [float(np.mean(np.std(t, axis=0))) for p, t in per_task.values() if len(p) > 1]
    p, d = (float(np.mean(p_std)), float(np.mean(t_std))) if p_std else (0.0, 0.0)
    return {"episodes": len(episode_ids), "ratio": p / max(d, 1e-9), "pred_std_rad": p, "data_std_rad": d}
