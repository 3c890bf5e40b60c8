#!/usr/bin/env python3
"""Soak the virtual-rig graph: one long-lived graph, episode after episode, and watch for growth.

    .venv/bin/python scripts/soak.py --sim-minutes 30            # the README figure
    .venv/bin/python scripts/soak.py --sim-minutes 2 --json out.json

All nodes run in one process under the deterministic in-process executor (simulated clock, as fast as
the CPU allows), with the scripted expert as the policy (the engine is not what is being soaked; the
nodes, executors, supervisor, drivers and the emulated Inspire serial link are).  Every
`--sample-s` simulated seconds it records the process's RSS, thread count and open file descriptors.
Growth is judged after a warm-up (the first episode loads MuJoCo, allocators settle): RSS growth
below `--max-rss-growth-mb` and no thread or file-descriptor growth, else exit 1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")


def _proc_mb(path: str, key: str) -> float:
    """A kB field of a /proc file, in MB (NaN when absent)."""
    with open(path) as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def rss_mb() -> float:
    return _proc_mb("/proc/self/status", "VmRSS:")


def rss_exact_mb() -> float:
    """Resident size from a page-table walk (smaps_rollup): VmRSS comes from counters the kernel may batch."""
    return _proc_mb("/proc/self/smaps_rollup", "Rss:")


REPO = str(Path(__file__).resolve().parent.parent) + os.sep


def _short(filename: str) -> str:
    """A traceback file name relative to this checkout, where it is inside it."""
    return filename[len(REPO):] if filename.startswith(REPO) else filename


def malloc_trim() -> None:
    """Return the heap's free pages to the OS (glibc); nothing elsewhere."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def smaps_by_mapping() -> dict[str, tuple[int, int]]:
    """Resident kB and transparent-huge-page kB per mapping of this process, keyed by what backs it.

    Anonymous mappings are keyed by their size class, so a new 2 MB arena shows up as one more of
    them rather than as an unnamed address.  The growth per key after warm-up names the owner of
    native growth (a library's own mappings, [heap], numpy's big buffers as anonymous mmaps)."""
    out: dict[str, tuple[int, int]] = {}
    key = ""
    with open("/proc/self/smaps") as f:
        for line in f:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):  # a mapping header: addr-addr perms offset dev inode [path]
                parts = line.split()
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                path = parts[5] if len(parts) > 5 else ""
                key = path or f"[anon {max(1, (hi - lo) >> 20)} MB]"
                continue
            if first in ("Rss:", "AnonHugePages:"):
                rss, huge = out.get(key, (0, 0))
                kb = int(line.split()[1])
                out[key] = (rss + kb, huge) if first == "Rss:" else (rss, huge + kb)
    return out


def print_smaps_growth(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], top: int) -> None:
    grown = sorted(((after.get(k, (0, 0))[0] - before.get(k, (0, 0))[0],
                     after.get(k, (0, 0))[1] - before.get(k, (0, 0))[1], k) for k in set(before) | set(after)),
                   reverse=True)
    print(f"resident growth by mapping after warm-up (top {top}; THP = transparent huge pages):")
    for d_rss, d_huge, k in grown[:top]:
        if d_rss:
            print(f"  {d_rss / 1024:+8.2f} MB  (THP {d_huge / 1024:+.1f} MB)  {k}")


def disable_thp() -> None:
    """No transparent huge pages for this process from now on (Linux >= 3.15); a no-op elsewhere."""
    import ctypes

    pr_set_thp_disable = 41
    try:
        if ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_thp_disable, 1, 0, 0, 0) != 0:
            print(f"--no-thp: prctl failed (errno {ctypes.get_errno()})", file=sys.stderr)
    except (OSError, AttributeError) as err:
        print(f"--no-thp: not available here ({err})", file=sys.stderr)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sim-minutes", type=float, default=30.0, help="simulated time to run (default 30)")
    ap.add_argument("--sample-s", type=float, default=10.0, help="simulated seconds between samples")
    ap.add_argument("--warmup-episodes", type=int, default=2, help="episodes before the baseline sample")
    ap.add_argument("--max-rss-growth-mb", type=float, default=5.0)
    ap.add_argument("--camera-rate-hz", type=float, default=2.0, help="virtual camera rate (renders cost CPU)")
    ap.add_argument("--json", help="write the samples and the verdict here")
    ap.add_argument("--malloc-trim", action="store_true",
                    help="call glibc malloc_trim(0) before each sample: RSS then counts live memory, not heap that "
                         "the allocator keeps for reuse (tells a leak from fragmentation)")
    ap.add_argument("--trace-malloc", type=int, default=0, metavar="N",
                    help="trace Python allocations (slow) and print the N source lines that grew most after warm-up")
    ap.add_argument("--no-thp", action="store_true",
                    help="disable transparent huge pages for this process (prctl PR_SET_THP_DISABLE): a heap that "
                         "THP backs grows RSS in whole 2 MB pages, which reads as growth when a few kB were added")
    ap.add_argument("--smaps", type=int, default=0, metavar="N",
                    help="print the N memory mappings (/proc/self/smaps) whose resident size grew most after warm-up")
    args = ap.parse_args(argv)
    if args.no_thp:
        disable_thp()

    from being_h0_runtime.launch import build_graph, close_graph, load_profile
    from being_h0_runtime.msgs import TaskStatus
    from being_h0_runtime.operator import OperatorConsole
    from being_h0_runtime.policy.expert import with_expert
    from being_h0_runtime.transport.inproc import InprocContext

    profile = load_profile("sim")
    ctx = InprocContext()
    run_dir = Path(tempfile.mkdtemp(prefix="being_h0_soak_"))
    nodes = build_graph(profile, ctx, run_dir, with_expert({"virtual_rig": {"camera_rate_hz": args.camera_rate_hz}}))
    console = OperatorConsole(ctx.create_node("operator_console"))
    total = args.sim_minutes * 60.0
    samples: list[dict[str, float]] = []
    outcomes: dict[str, int] = {}
    baseline: dict[str, float] | None = None
    wall0 = time.perf_counter()
    episode = 0
    base_snapshot: tracemalloc.Snapshot | None = None
    base_smaps: dict[str, tuple[int, int]] | None = None
    last_smaps: dict[str, tuple[int, int]] | None = None
    if args.trace_malloc:
        tracemalloc.start(4)
    try:
        ctx.run_for(0.2)
        t0 = ctx.now()
        next_sample = t0
        while ctx.now() - t0 < total:
            episode += 1
            console.start(profile.task.task_id, profile.task.instruction, episode, 1000 + episode)
            end = ctx.now() + 120.0
            while not console.finished(episode) and ctx.now() < end:
                ctx.run_for(1.0)
                if ctx.now() >= next_sample:
                    if args.malloc_trim:
                        malloc_trim()
                    s = {"sim_s": round(ctx.now() - t0, 1), "wall_s": round(time.perf_counter() - wall0, 1),
                         "rss_mb": round(rss_mb(), 2), "rss_exact_mb": round(rss_exact_mb(), 2),
                         "threads": threading.active_count(),
                         "os_threads": len(os.listdir("/proc/self/task")), "fds": open_fds(), "episode": episode}
                    samples.append(s)
                    if args.smaps and baseline is not None and ctx.now() - t0 >= total - args.sample_s:
                        # read while the graph still runs (close_graph frees its memory), and only near the end:
                        # parsing smaps every sample allocates enough to change the heap's layout
                        last_smaps = smaps_by_mapping()
                    next_sample += args.sample_s
                    if baseline is None and episode > args.warmup_episodes:
                        baseline = s
                        base_snapshot = tracemalloc.take_snapshot() if args.trace_malloc else None
                        base_smaps = smaps_by_mapping() if args.smaps else None
                    print(f"\r[{s['sim_s']:7.1f}/{total:.0f} sim s] episode {episode}  RSS {s['rss_mb']:.1f} MB  "
                          f"threads {s['os_threads']}  fds {s['fds']}", end="", file=sys.stderr, flush=True)
            state = console.status.state if console.finished(episode) else "stuck"
            outcomes[state] = outcomes.get(state, 0) + 1
            ctx.run_for(1.0)  # between episodes, as an operator would
    finally:
        close_graph(nodes)
    print(file=sys.stderr)
    last = samples[-1]
    base = baseline or samples[0]
    # RSS swings by ~2 MB within an episode (buffers freed and taken again), so one sample against one sample
    # can read a swing as growth: compare the medians of the first and last sixth of the samples after warm-up.
    after = samples[samples.index(base):]
    window = max(1, len(after) // 6)
    rss_first = statistics.median(s["rss_mb"] for s in after[:window])
    rss_last = statistics.median(s["rss_mb"] for s in after[-window:])
    growth = {"rss_mb": round(rss_last - rss_first, 2), "rss_mb_last_sample": round(last["rss_mb"] - base["rss_mb"], 2),
              "rss_window_samples": window, "os_threads": last["os_threads"] - base["os_threads"],
              "fds": last["fds"] - base["fds"]}
    ok = growth["rss_mb"] < args.max_rss_growth_mb and growth["os_threads"] <= 0 and growth["fds"] <= 0
    report = {"malloc_trim": args.malloc_trim, "no_thp": args.no_thp, "sim_minutes": round((last["sim_s"]) / 60.0, 2), "wall_s": last["wall_s"], "episodes": episode,
              "outcomes": outcomes, "baseline": base, "last": last, "growth": growth, "ok": ok,
              "samples": samples, "terminal_states": sorted(TaskStatus.TERMINAL)}
    print(f"soak: {report['sim_minutes']} sim min in {report['wall_s']} s wall, {episode} episodes {outcomes}")
    print(f"growth after warm-up (episode {base['episode']} -> {last['episode']}): RSS {growth['rss_mb']:+.2f} MB "
          f"(median of the first vs last {window} samples: {rss_first:.1f} -> {rss_last:.1f}; one sample vs one: "
          f"{growth['rss_mb_last_sample']:+.2f} MB), threads {growth['os_threads']:+d}, fds {growth['fds']:+d}"
          f"  -> {'OK' if ok else 'GROWTH'}")
    if base_snapshot is not None:
        diffs = tracemalloc.take_snapshot().compare_to(base_snapshot, "traceback")
        # the total tells Python-side growth (objects, numpy buffers) from native growth: compare it with RSS
        print(f"Python allocations after warm-up: {sum(d.size_diff for d in diffs) / 2**20:+.2f} MB in total "
              f"(RSS {growth['rss_mb']:+.2f} MB); top {args.trace_malloc} source lines:")
        for stat in diffs[:args.trace_malloc]:
            print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
                  + " <- ".join(f"{_short(fr.filename)}:{fr.lineno}" for fr in stat.traceback))
    if base_smaps is not None and last_smaps is not None:
        print_smaps_growth(base_smaps, last_smaps, args.smaps)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
