"""What `being-h0 bench e2e` computes from its traces: per-frame stage latencies, their summary, the table and plot."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

STAGES = (
    ("render", "render"),
    ("image_transport", "image transport"),
    ("frame_wait", "frame wait"),
    ("preprocess", "pre-processing"),
    ("inference", "inference"),
    ("chunk_transport", "chunk transport"),
    ("scheduling", "chunk scheduling"),
    ("state_read", "driver state read"),
    ("supervisor", "supervisor"),
    ("driver_write", "driver write"),
)
GROUPS = ("arm", "hand")


# --------------------------------------------------------------------------- analysis
def frame_latencies(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per traced frame that an inference used: total and per-stage latency (seconds), per driver group."""
    by_stamp: dict[int, dict[str, float]] = {}
    for e in events:
        if e["ev"] in ("capture", "rendered", "cam_rx", "cam_pub", "inf_rx") and e.get("stamp") is not None:
            # first occurrence wins (a frame is received once per node)
            by_stamp.setdefault(_key(e["stamp"]), {}).setdefault(e["ev"], e["t"])
    chunk_rx: dict[tuple[str, int], float] = {}
    applied: dict[tuple[str, int], dict[str, Any]] = {}
    for e in events:
        if e["ev"] == "chunk_rx":
            chunk_rx.setdefault((e["group"], e["seq"]), e["t"])
        elif e["ev"] == "applied":
            applied.setdefault((e["group"], e["seq"]), e)
    frames = []
    for e in events:
        if e["ev"] != "infer" or e.get("stamp") is None:
            continue
        f = by_stamp.get(_key(e["stamp"]), {})
        if not {"capture", "rendered", "inf_rx"} <= f.keys():
            continue
        pre = (e.get("obs_s") or 0.0) + (e.get("pre_s") or 0.0)
        model = e.get("model_s") or 0.0
        row: dict[str, Any] = {"stamp": e["stamp"], "seq": e["seq"], "groups": {}}
        common = {
            "render": f["rendered"] - f["capture"],
            "image_transport": f["inf_rx"] - f["rendered"],
            "frame_wait": max(0.0, e["t0"] - f["inf_rx"]),
            "preprocess": pre,
            "inference": model,
        }
        infer_end = e["t0"] + pre + model
        for g in GROUPS:
            a = applied.get((g, e["seq"]))
            rx = chunk_rx.get((g, e["seq"]))
            if a is None or rx is None:
                continue
            stages = dict(common)
            stages["chunk_transport"] = max(0.0, rx - infer_end)
            stages["scheduling"] = max(0.0, a["t0"] - rx) + (a.get("action_s") or 0.0)
            # the cycle reads the driver (and runs the safety gate) before asking the executor
            stages["state_read"] = max(0.0, (a.get("action_start") or a["t0"]) - a["t0"])
            stages["supervisor"] = a.get("sup_s") or 0.0
            stages["driver_write"] = a.get("write_s") or 0.0
            total = a["t"] - f["capture"]
            row["groups"][g] = {"total": total, "stages": stages, "unaccounted": total - sum(stages.values())}
        if len(row["groups"]) == len(GROUPS):
            last = max(GROUPS, key=lambda g: row["groups"][g]["total"])
            row["total"] = row["groups"][last]["total"]
            row["stages"] = row["groups"][last]["stages"]
            row["last_group"] = last
            frames.append(row)
    return frames


def _key(stamp: float) -> int:
    """Frames are 1/camera_rate apart; a millisecond key is immune to float/Time round trips."""
    return round(stamp * 1000.0)


def summarise(frames: list[dict[str, Any]]) -> dict[str, Any]:
    """p50/p99/max of the total and per stage (ms); per-driver totals."""

    def pct(xs: list[float]) -> dict[str, float]:
        a = np.asarray(xs) * 1e3
        if a.size == 0:
            return {"p50": float("nan"), "p99": float("nan"), "max": float("nan"), "mean": float("nan")}
        return {"p50": float(np.percentile(a, 50)), "p99": float(np.percentile(a, 99)), "max": float(a.max()),
                "mean": float(a.mean())}

    out: dict[str, Any] = {"frames": len(frames), "total_ms": pct([f["total"] for f in frames])}
    out["stages_ms"] = {k: pct([f["stages"][k] for f in frames]) for k, _ in STAGES}
    out["per_driver_total_ms"] = {g: pct([f["groups"][g]["total"] for f in frames]) for g in GROUPS}
    out["per_driver_write_ms"] = {g: pct([f["groups"][g]["stages"]["driver_write"] for f in frames]) for g in GROUPS}
    out["last_driver"] = {g: sum(1 for f in frames if f["last_group"] == g) for g in GROUPS}
    return out


# --------------------------------------------------------------------------- running the graph


def plot(results: dict[str, dict[str, Any]], frames: dict[str, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8))
    names = list(results)
    bottom = np.zeros(len(names))
    colours = plt.get_cmap("tab10").colors
    for i, (key, label) in enumerate(STAGES):
        vals = np.array([results[n]["stages_ms"][key]["mean"] for n in names])
        ax1.bar(names, vals, bottom=bottom, label=label, color=colours[i % len(colours)])
        bottom += np.nan_to_num(vals)
    ax1.set_ylabel("mean ms per stage (frame -> last driver)")
    ax1.set_title("where the time goes")
    ax1.legend(fontsize=7)
    for n in names:
        xs = np.sort([f["total"] * 1e3 for f in frames[n]])
        if xs.size:
            ax2.plot(xs, np.arange(1, xs.size + 1) / xs.size, label=f"{n} (p99 {results[n]['total_ms']['p99']:.0f} ms)")
    ax2.axvline(60, color="k", ls="--", lw=0.8, label="goal p99 60 ms")
    ax2.set_xlabel("capture -> first action applied (ms)")
    ax2.set_ylabel("fraction of frames")
    ax2.set_title("latency distribution")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def print_table(results: dict[str, dict[str, Any]], load: tuple[float, float, float]) -> None:
    print(f"machine load average (1/5/15 min) at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"on {os.cpu_count()} CPUs")
    names = list(results)
    w = max(14, *(len(n) + 1 for n in names))
    print(f"{'':<20}" + "".join(f"{n:>{w}}" for n in names))
    print(f"{'frames':<20}" + "".join(f"{results[n]['frames']:>{w}d}" for n in names))
    for q in ("p50", "p99", "max"):
        print(f"{'total ' + q + ' ms':<20}" + "".join(f"{results[n]['total_ms'][q]:>{w}.1f}" for n in names))
    print("stage p50 / p99 ms:")
    for key, label in STAGES:
        cells = "".join(f"{results[n]['stages_ms'][key]['p50']:>{w - 7}.1f} /{results[n]['stages_ms'][key]['p99']:5.1f}"
                        for n in names)
        print(f"  {label:<18}" + cells)
    for g in GROUPS:
        print(f"{g + ' total p50/p99':<20}" + "".join(
            f"{results[n]['per_driver_total_ms'][g]['p50']:>{w - 7}.1f} /{results[n]['per_driver_total_ms'][g]['p99']:5.1f}"
            for n in names))
