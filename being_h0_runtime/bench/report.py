"""`being-h0 bench report`: success rates with Wilson intervals, comparisons, failures a person can act on.

Reads the SQLite file written by `bench run` and writes into --out:

  report.md      per engine / strategy / task / variation success rates (k/n, rate,
                 Wilson 95%), engine-vs-engine and strategy-vs-strategy tables with
                 Fisher exact tests, every failed trial with its phase, reason, frame
                 strip and the command that reproduces it, and the per-trial table
  report.html    the same, with the plot and each trial's frame strip inline (a failed
                 trial's strip links to the full-size image)
  success.png    grouped bars (one group per task:variation, one bar per engine and
                 strategy) with Wilson 95% intervals, sized to the number of bars
  summary.json   the numbers, for scripts

Engines are named by their directory's name plus the first 8 hex digits of their
manifest checksum (`being-h0-sim-small@61535a1a`), so two exports with the same
name are never merged.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from ..config import ConfigError
from .report_render import failed_rows, render_html, render_markdown
from .report_stats import CellStats, PairTest, cell_stats, pair_tests  # noqa: F401 - re-exported
from .results import load_results


def plot_rates(cells: list[CellStats], path: Path) -> None:
    """Grouped bars, one group per task:variation; the figure grows with the bars and labels it holds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups = sorted({(c.profile, c.task, c.variation) for c in cells},
                    key=lambda g: (g[0], g[1], g[2] == "all", g[2]))
    series = sorted({c.series for c in cells})
    lookup = {(c.profile, c.task, c.variation, c.series): c for c in cells}
    multi_profile = len({g[0] for g in groups}) > 1
    bar_in = 0.32  # inches per bar
    group_in = max(0.9, bar_in * len(series) + 0.35)
    width_in = min(40.0, 1.2 + group_in * len(groups))
    legend_rows = len(series) if len(series) <= 3 else int(np.ceil(len(series) / 2))
    fig, ax = plt.subplots(figsize=(max(4.0, width_in), 3.2 + 0.2 * legend_rows))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for i, name in enumerate(series):
        for j, g in enumerate(groups):
            c = lookup.get((*g, name))
            if c is None:
                continue
            bx = x[j] - 0.4 + width * (i + 0.5)
            ax.bar(bx, 100 * c.rate, width, yerr=[[100 * (c.rate - c.ci_low)], [100 * (c.ci_high - c.rate)]],
                   capsize=3, color=f"C{i}", label=name if j == next(jj for jj, gg in enumerate(groups)
                                                                        if (*gg, name) in lookup) else None)
            ax.text(bx, 100 * c.ci_high + 1.5, f"{c.successes}/{c.trials}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels([(f"{g[0]}:" if multi_profile else "") + f"{g[1]}\n{g[2]}" for g in groups], fontsize=8)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel("success rate (%)")
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.set_title("Success rate (error bars: Wilson 95% interval)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.18 if len(groups) else 0),
              ncol=1 if len(series) <= 3 else 2, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100, bbox_inches="tight")  # the canvas is cut to what was drawn: nothing overflows
    plt.close(fig)
    os.replace(tmp, path)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_report(results: Path, out: Path) -> dict[str, Path]:
    """Write report.md, report.html, success.png and summary.json into `out`; return their paths."""
    rows = load_results(results)
    if not rows:
        raise ConfigError(f"{results}: no trials recorded yet")
    out.mkdir(parents=True, exist_ok=True)
    cells = cell_stats(rows)
    engine_tests = pair_tests(cells, "engine")
    strategy_tests = pair_tests(cells, "strategy")
    plot = out / "success.png"
    plot_rates(cells, plot)
    base = results.resolve().parent
    frame_links = {}
    for r in rows:
        if r["frames"]:
            f = (base / r["frames"]).resolve()
            if f.exists():
                frame_links[r["id"]] = os.path.relpath(f, out.resolve())
    md = out / "report.md"
    _write_text(md, render_markdown(cells, engine_tests, strategy_tests, rows, results, plot.name, frame_links))
    page = out / "report.html"
    _write_text(page, render_html(cells, engine_tests, strategy_tests, rows, results, plot.name, frame_links))
    summary = out / "summary.json"
    failures = [{k: r.get(k) for k in ("engine_name", "engine_sha256", "strategy", "task", "variation", "seed",
                                       "state", "failure_phase", "failure_reason", "command", "frames", "events")}
                for r in failed_rows(rows)]
    _write_text(summary, json.dumps({"cells": [asdict(c) for c in cells],
                                     "engine_comparisons": [asdict(t) for t in engine_tests],
                                     "strategy_comparisons": [asdict(t) for t in strategy_tests],
                                     "failures": failures}, indent=2))
    return {"markdown": md, "html": page, "plot": plot, "summary": summary}


HELP = """\
Summarise a `being-h0 bench run` results file: success rate per engine,
strategy, task and variation with Wilson 95% intervals (honest at 20 trials
and at 0/n or n/n), an 'all' row per task over its variations, engine-vs-engine
and strategy-vs-strategy tables with two-sided Fisher exact tests, a bar plot
with interval error bars, and every failed trial with the phase it failed in,
a reason a person can act on, its frame strip and the command that reproduces it.
"""


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="being-h0 bench report", description=HELP,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="example: being-h0 bench report --results bench/results.sqlite "
                                        "--out bench/report")
    ap.add_argument("--results", required=True, type=Path, help="SQLite file written by `being-h0 bench run`")
    ap.add_argument("--out", required=True, type=Path, help="directory for report.md/.html, success.png, summary.json")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    return run_parsed(ap.parse_args(argv), ap)


def run_parsed(args: argparse.Namespace, ap: argparse.ArgumentParser) -> int:
    """Run with parsed options (`being-h0 bench` parses them in its own tree); ap.error on bad values."""
    try:
        paths = write_report(args.results, args.out)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    summary = json.loads(paths["summary"].read_text())
    for c in summary["cells"]:
        name = f"{c['engine']} · {c['strategy']}" if c["strategy"] else c["engine"]
        print(f"{name:<40} {c['task']}:{c['variation']:<8} {c['successes']:>3}/{c['trials']:<3} "
              f"{100 * c['rate']:5.1f}%  [{100 * c['ci_low']:.1f}%, {100 * c['ci_high']:.1f}%]")
    for f in summary["failures"]:
        print(f"  failed: {f['task']}:{f['variation']} seed {f['seed']}: {f['failure_reason'] or f['state']}")
    print(f"report: {paths['markdown']}  {paths['html']}  {paths['plot']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
