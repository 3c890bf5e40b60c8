"""The data-efficiency study's output: a table (markdown + JSON) and a plot, success vs. fraction of demos.

Each cell is one post-trained engine (arm x fraction) benchmarked on n trials; its rate is shown with
the Wilson 95% score interval (bench/stats.py, the interval every bench report uses: right at 0/n and
n/n, where the normal approximation is not).  Files, written whole (write-then-rename):

    data_efficiency.md    the table, the settings it was made with, and how to reproduce it
    data_efficiency.json  the same cells and settings for programs
    data_efficiency.png   success vs. fraction of demos, one line per arm, interval bars
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from being_h0_runtime.bench.stats import compare_rates, wilson_interval

#: arm id -> what the line in the table and the plot is called
ARM_LABELS = {"with": "with hand-motion pretraining", "without": "without (post-training only)"}


@dataclass(frozen=True)
class Cell:
    arm: str  # "with" | "without"
    fraction: float
    episodes: int  # demos post-trained on
    successes: int
    trials: int

    @property
    def rate(self) -> float:
        return self.successes / self.trials if self.trials else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.trials)

    def to_dict(self) -> dict:
        lo, hi = self.interval
        return {**asdict(self), "rate": self.rate, "ci95_low": lo, "ci95_high": hi}


def comparisons(cells: Sequence[Cell]) -> list[dict]:
    """Per fraction with both arms: with - without, and the two-sided test of equal rates (bench/stats.py)."""
    by = {(c.arm, c.fraction): c for c in cells}
    out = []
    for f in sorted({c.fraction for c in cells}):
        w, wo = by.get(("with", f)), by.get(("without", f))
        if w and wo and w.trials and wo.trials:
            cmp = compare_rates(w.successes, w.trials, wo.successes, wo.trials)
            out.append({"fraction": f, "difference": cmp.difference, "p_value": cmp.p_value, "test": cmp.test})
    return out


def markdown(cells: Sequence[Cell], settings: dict, command: str) -> str:
    arms = [a for a in ARM_LABELS if any(c.arm == a for c in cells)]
    fractions = sorted({c.fraction for c in cells})
    by = {(c.arm, c.fraction): c for c in cells}
    lines = [f"# Data efficiency: {settings.get('task')} ({settings.get('variation')} variation)", "",
             f"Success out of n bench trials (seeds {settings.get('base_seed')}..), Wilson 95% interval; "
             "each cell is its own post-trained engine.", "",
             "| arm | " + " | ".join(f"{f:.0%} ({_eps(cells, f)} demos)" for f in fractions) + " |",
             "|---|" + "---|" * len(fractions)]
    for a in arms:
        row = []
        for f in fractions:
            c = by.get((a, f))
            if c is None or not c.trials:
                row.append("not run")
                continue
            lo, hi = c.interval
            row.append(f"{c.successes}/{c.trials} = {c.rate:.2f} [{lo:.2f}, {hi:.2f}]")
        lines.append(f"| {ARM_LABELS[a]} | " + " | ".join(row) + " |")
    cmps = comparisons(cells)
    if cmps:
        lines += ["", "with - without, per fraction (two-sided test of equal rates):", ""]
        lines += [f"- {c['fraction']:.0%}: {c['difference']:+.2f} (p = {c['p_value']:.3g}, {c['test']})" for c in cmps]
    lines += ["", "Settings:", "", "```json", json.dumps(settings, indent=2, default=str), "```", "",
              "Reproduce:", "", "```", command, "```", ""]
    return "\n".join(lines)


def _eps(cells: Sequence[Cell], f: float) -> int:
    return max(c.episodes for c in cells if c.fraction == f)


def plot(cells: Sequence[Cell], settings: dict, path: Path) -> Path:
    """Success rate vs. fraction of demos, one line per arm, Wilson 95% bars (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    for k, arm in enumerate(a for a in ARM_LABELS if any(c.arm == a for c in cells)):
        pts = sorted((c for c in cells if c.arm == arm and c.trials), key=lambda c: c.fraction)
        if not pts:
            continue
        shift = (k - 0.5) * 1.2  # percentage points: side by side so the bars do not hide each other
        x = [c.fraction * 100 + shift for c in pts]
        y = [c.rate for c in pts]
        err = [[c.rate - c.interval[0] for c in pts], [c.interval[1] - c.rate for c in pts]]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=4, label=ARM_LABELS[arm])
    fr = sorted({c.fraction for c in cells})
    ax.set_xticks([f * 100 for f in fr], [f"{f:.0%}\n({_eps(cells, f)})" for f in fr])
    ax.set_xlabel("fraction of demos post-trained on (number of demos)")
    ax.set_ylabel(f"success rate ({settings.get('variation')})")
    ax.set_xlim(0, 105)  # the whole 0..100% axis, so a curve's slope reads as data per success
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(f"{settings.get('task')}: data efficiency", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


def write_report(cells: Sequence[Cell], settings: dict, command: str, out: Path) -> list[Path]:
    """The three files into `out` (created); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name, text in (("data_efficiency.md", markdown(cells, settings, command)),
                       ("data_efficiency.json", json.dumps({"settings": settings, "command": command,
                                                            "cells": [c.to_dict() for c in cells],
                                                            "with_minus_without": comparisons(cells)},
                                                           indent=2, default=str))):
        tmp = out / (name + ".tmp")
        tmp.write_text(text)
        tmp.replace(out / name)
        files.append(out / name)
    if any(c.trials for c in cells):
        files.append(plot(cells, settings, out / "data_efficiency.png"))
    return files
