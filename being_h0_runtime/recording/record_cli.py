"""`being-h0 record`: record demonstrations on the virtual rig with a scripted operator.

Each episode runs the whole node graph (virtual rig, camera, arm, hand,
inference, task) plus the recorder node, exactly the recording path used
with a human teleoperating the real rig; the scripted expert takes the
operator's place.  Episodes are rosbag2/MCAP folders; `--export` turns the
successful ones into a post-training dataset.

With --teleop DEVICE a person drives instead (keyboard, spacemouse, webcam,
video:FILE; see `being-h0 teleop --help`), one task episode per demonstration.
On a terminal the operator console runs (one status line, single keys: s start,
a abort, e or space e-stop, r reset, y/n mark success/failure, x re-record, q
quit, h help): after `a` it waits for `s` before the next episode; `x` throws
the current episode away and records it again; `q` stops (an unfinished
episode is discarded).

--task picks the task (tasks/ID.yaml: the virtual-rig scene, and its first
instruction as the recorded one).  --resume continues an interrupted run:
every finished episode is a line of OUT/record_log.jsonl (index, seed,
success, folder), so a second run with the same options records only the
episodes missing, and removes the half-written folder of the one that was
cut off.

Examples:
  being-h0 record --episodes 20 --out demos/pick_place
  being-h0 record --task close_lid --episodes 50 --seed-base 1000 --out demos/close_lid --resume
  being-h0 record --teleop keyboard --episodes 3 --out demos/human
  being-h0 record --episodes 5 --out demos/pp --variation unseen --seed-base 1000 --export data/pp
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="being-h0 record", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=10, help="how many episodes to record")
    ap.add_argument("--out", default=None, help="folder for the episode folders (created if missing; default: "
                    "recordings/ in your data folder, ~/.local/share/being-h0 or $XDG_DATA_HOME/being-h0)")
    ap.add_argument("--profile", default="sim", help="launch profile (virtual rig)")
    ap.add_argument("--variation", default=None, help="scene variation: seen | unseen | clutter | train "
                    "(train: per-seed randomised scenes for demonstrations, sim/train_variation.py)")
    ap.add_argument("--task", default=None, metavar="TASK",
                    help="task id (tasks/TASK.yaml) or YAML path: its virtual-rig scene and first instruction "
                         "(default: the profile's task, pick_place_toy)")
    ap.add_argument("--resume", action="store_true",
                    help=f"skip the episodes already in OUT/{LEDGER} (a re-run after an interruption)")
    ap.add_argument("--seed-base", type=int, default=0, help="episode i uses seed seed-base + i")
    ap.add_argument("--camera-rate", type=float, default=10.0, help="camera frames per second to record")
    ap.add_argument("--keep-failures", action="store_true", help="keep failed episodes too (tagged 'failure')")
    ap.add_argument("--export", default=None, metavar="DIR", help="export the kept episodes to a dataset here")
    ap.add_argument("--control-rate", type=float, default=10.0, help="dataset rate (Hz) for --export")
    ap.add_argument("--jobs", type=int, default=1, help="record in this many processes (the rig is CPU-bound: "
                    "use the number of cores)")
    from ..teleop.cli import add_device_args

    add_device_args(ap, "--teleop", required=False)  # a person drives instead of the scripted expert
    ap.add_argument("--time-limit", type=float, default=None, help="with --teleop: task time limit (s)")
    ap.add_argument("--max-seconds", type=float, default=None, help="with --teleop: end each episode after this")
    ap.add_argument("--as-fast-as-possible", action="store_true", help=argparse.SUPPRESS)  # video files, tests
    ap.add_argument("--console", choices=["auto", "on", "off"], default="auto",
                    help="operator console with status line and keys (auto: when stdin and stdout are terminals "
                         "and --jobs is 1; keys are read from stdin lines when it is not a terminal)")
    return ap


#: one JSON line per finished episode in the output folder: what --resume skips
LEDGER = "record_log.jsonl"


def record_one(out: Path, index: int, seed: int, profile: str = "sim", variation: str | None = None,
               camera_rate_hz: float = 10.0, keep_failures: bool = False, task: str | None = None,
               console: Any = None, position: int = 0) -> tuple[bool, Path | None]:
    """Record episode number `index` (scene `seed`) into `out`; returns (success, kept folder or None).

    `task`: a task id or YAML path (its scene and first instruction); None: the profile's task.
    With an operator `console` (console.EpisodeConsole) the episode shows as number `position` on its
    status line and obeys its keys.
    """
    from ..nodes.recorder import RecorderNode, RecorderParams
    from ..operator import run_episode_inproc

    os.environ.setdefault("MUJOCO_GL", "egl")
    rig = {"camera_rate_hz": camera_rate_hz, "hand_baudrate": None}
    if variation:
        rig["variation"] = variation
    task_id = instruction = None
    if task is not None:
        from ..bench.tasks import load_task

        tdef = load_task(task)
        task_id, instruction = tdef.id, tdef.instructions[0]
        rig["task"] = tdef.scene.sim_task
    holder: dict[str, RecorderNode] = {}

    def add_recorder(ctx, nodes):
        holder["rec"] = rec = RecorderNode(ctx.create_node("recorder"),
                                           RecorderParams(output_dir=out, operator="scripted-expert",
                                                          min_free_bytes=0, first_index=index)).bring_up()
        if console is not None:
            console.attach(ctx, nodes, position, nodes["task"].p.task_id,
                           recording_dir=lambda: rec.writer.dir if rec.writer is not None else rec.last_episode_dir)

    # the scripted expert is the operator, whatever policy the profile runs by default
    from ..policy.expert import with_expert

    outcome = run_episode_inproc(profile, seed=seed, episode=index + 1, overrides=with_expert({"virtual_rig": rig}),
                                 setup=add_recorder, task_id=task_id, instruction=instruction)
    rec = holder["rec"]
    rec.close()
    folder = rec.last_episode_dir
    if folder is not None and not (outcome.success or keep_failures):
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        folder = None
    return bool(outcome.success), folder


def _record_one_star(args: tuple) -> tuple[bool, Path | None]:
    return record_one(*args)


def record_episodes(out: Path, episodes: int, profile: str = "sim", seed_base: int = 0,
                    variation: str | None = None, camera_rate_hz: float = 10.0, keep_failures: bool = False,
                    progress: bool = True, jobs: int = 1, console: Any = None, task: str | None = None,
                    resume: bool = False) -> list[Path]:
    """Record `episodes` scripted episodes (episode i: scene seed seed_base + i); returns the kept folders in order.

    jobs > 1 records episodes in that many worker processes (each episode is
    independent and deterministic given its seed, so the result does not
    depend on jobs); the virtual rig is CPU-bound, so jobs = cores is the
    sweet spot.  Every finished episode is appended to OUT/record_log.jsonl;
    with `resume` the episodes listed there are not recorded again (episode i
    is then always folder index i, whatever ran before).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done = _read_ledger(out, seed_base) if resume else {}
    if resume:
        first = 0
        _remove_unfinished(out, done, episodes)
    else:
        first = sum(1 for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))
    tasks = [(out, first + i, seed_base + i, profile, variation, camera_rate_hz, keep_failures, task)
             for i in range(episodes) if i not in done]
    kept: dict[int, Path] = {i: out / e["folder"] for i, e in done.items() if e["folder"] and i < episodes}
    successes = sum(bool(e["success"]) for i, e in done.items() if i < episodes)
    bar = tqdm(total=episodes, initial=episodes - len(tasks), desc="recording", unit="ep", disable=not progress)
    ledger = (out / LEDGER).open("a")

    def tally(job: tuple, result: tuple[bool, Path | None]) -> None:
        nonlocal successes
        ok, folder = result
        successes += ok
        if folder is not None:
            kept[job[1]] = folder
        ledger.write(json.dumps({"index": job[1], "seed": job[2], "success": bool(ok),
                                 "folder": folder.name if folder is not None else ""}) + "\n")
        ledger.flush()
        bar.update(1)
        bar.set_postfix(success=f"{successes}/{bar.n}", kept=len(kept))

    try:
        if console is not None:
            _record_with_console(tasks, console, tally)
        elif jobs <= 1:
            for t in tasks:
                tally(t, record_one(*t))
        else:
            import multiprocessing as mp

            # spawn: a forked MuJoCo/EGL context is not safe to reuse
            from ..logs import for_workers, init_worker

            with mp.get_context("spawn").Pool(jobs, initializer=init_worker, initargs=for_workers()) as pool:
                for t, result in zip(tasks, pool.imap(_record_one_star, tasks)):
                    tally(t, result)
    finally:
        ledger.close()
        bar.close()
    return [kept[i] for i in sorted(kept)]


def _read_ledger(out: Path, seed_base: int) -> dict[int, dict[str, Any]]:
    """Finished episodes of an earlier run in `out` by index; a torn last line (a kill mid-write) is skipped."""
    path = out / LEDGER
    if not path.exists():
        if any(p.is_dir() and not p.name.startswith(".") for p in out.iterdir()):
            raise ValueError(f"{out}: holds episodes but no {LEDGER}; --resume continues only a run that wrote one")
        return {}
    done: dict[int, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        try:
            e = json.loads(line)
        except json.JSONDecodeError:
            continue
        if e["seed"] != seed_base + e["index"]:
            raise ValueError(f"{path}: episode {e['index']} was recorded with seed {e['seed']}, but --seed-base "
                             f"{seed_base} gives {seed_base + e['index']}; use the earlier --seed-base or another --out")
        if e["folder"] and not (out / e["folder"]).is_dir():
            continue  # its folder is gone: record it again
        done[int(e["index"])] = e
    return done


def _remove_unfinished(out: Path, done: dict[int, dict[str, Any]], episodes: int) -> None:
    """Folders of episodes about to be recorded again (cut off mid-episode last time) are half-written."""
    import shutil

    todo = {f"_{i:04d}" for i in range(episodes) if i not in done}
    for p in out.iterdir():
        if p.is_dir() and not p.name.startswith(".") and p.name[-5:] in todo:
            shutil.rmtree(p, ignore_errors=True)


def _record_with_console(tasks: list[tuple], console: Any, tally: Any) -> None:
    """One episode after another under the operator's keys: x records the same one again, q stops."""
    import shutil

    i = 0
    while i < len(tasks) and not console.quit:
        ok, folder = record_one(*tasks[i], console=console, position=i + 1)
        if console.redo or (console.quit and not ok):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            if console.redo:
                console.line.message(f"episode {i + 1} discarded; recording it again")
                continue
            break
        tally(tasks[i], (ok, folder))
        i += 1
        console.wait_between()


build_parser = _parser  # the name `being-h0 record` adopts


def main(argv: Sequence[str] | None = None) -> int:
    return run_parsed(_parser().parse_args(argv))


def run_parsed(args: argparse.Namespace) -> int:
    """Record what `args` (from build_parser) ask for; 0 when at least one episode was kept."""
    if args.out is None:
        from ..paths import user_data_dir

        args.out = str(user_data_dir("recordings"))
        print(f"recording into {args.out} (--out to choose)", flush=True)
    from ..logs import add_run_log

    add_run_log(Path(args.out))  # the session's log beside its episodes
    from ..console import EpisodeConsole, console_wanted

    if args.teleop:
        from ..teleop.cli import record_teleop
        from ..teleop.devices import DeviceError

        try:
            kept = record_teleop(args)
        except DeviceError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    elif console_wanted(args.console, args.jobs):
        with EpisodeConsole(args.episodes) as console:
            kept = record_episodes(Path(args.out), args.episodes, args.profile, args.seed_base, args.variation,
                                   args.camera_rate, args.keep_failures, progress=False, console=console,
                                   task=args.task, resume=args.resume)
    else:
        try:
            kept = record_episodes(Path(args.out), args.episodes, args.profile, args.seed_base, args.variation,
                                   args.camera_rate, args.keep_failures, jobs=args.jobs, task=args.task,
                                   resume=args.resume)
        except ValueError as err:  # a --resume that does not match the folder
            print(f"error: {err}", file=sys.stderr)
            return 2
    print(f"kept {len(kept)} of {args.episodes} episodes in {args.out}")
    if args.export:
        if not kept:
            print("error: nothing to export", file=sys.stderr)
            return 1
        from .export import export_dataset

        info = export_dataset(kept, args.export, args.control_rate)
        print(f"dataset: {info.num_episodes} episodes, {info.num_frames} frames at {info.fps:g} Hz in {args.export}")
    return 0 if kept else 1


if __name__ == "__main__":
    sys.exit(main())
