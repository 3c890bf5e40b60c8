"""`being-h0 bench report`: success rates with Wilson intervals, engine comparison, plots.

Reads the SQLite file written by `bench run` and writes into --out:

  report.md      per task/variation success rates (k/n, rate, Wilson 95%),
                 pairwise engine comparisons with p-values, per-trial table
  report.html    the same, with the plot and each trial's frame strip inline
  success.png    grouped bars (one group per task:variation, one bar per engine)
                 with Wilson 95% intervals as error bars
  summary.json   the numbers, for scripts

Engines are labelled by engine id plus the first 8 hex digits of their
manifest checksum, so two exports with the same id are never merged.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from ..config import ConfigError
from .runner import iter_cells, load_results
from .stats import compare_rates, wilson_interval


@dataclass
class CellStats:
    engine: str
    profile: str
    task: str
    variation: str
    successes: int
    trials: int
    rate: float
    ci_low: float
    ci_high: float
    mean_sim_seconds: float
    safety_events: int
    interventions: int


@dataclass
class PairTest:
    task: str
    variation: str
    profile: str
    engine_a: str
    engine_b: str
    rate_a: float
    rate_b: float
    difference: float
    p_value: float
    test: str


def cell_stats(rows: list[dict[str, Any]]) -> list[CellStats]:
    out = []
    for (engine, profile, task, variation), rs in iter_cells(rows):
        k, n = sum(r["success"] for r in rs), len(rs)
        lo, hi = wilson_interval(k, n)
        out.append(CellStats(engine, profile, task, variation, k, n, k / n, lo, hi,
                             sum(r["sim_seconds"] for r in rs) / n, sum(r["safety_events"] for r in rs),
                             sum(r["interventions"] for r in rs)))
    # per-task aggregate over variations ("all"), when a task has more than one variation
    agg: dict[tuple[str, str, str], list[CellStats]] = {}
    for c in out:
        agg.setdefault((c.engine, c.profile, c.task), []).append(c)
    for (engine, profile, task), cs in agg.items():
        if len(cs) > 1:
            k, n = sum(c.successes for c in cs), sum(c.trials for c in cs)
            lo, hi = wilson_interval(k, n)
            out.append(CellStats(engine, profile, task, "all", k, n, k / n, lo, hi,
                                 sum(c.mean_sim_seconds * c.trials for c in cs) / n,
                                 sum(c.safety_events for c in cs), sum(c.interventions for c in cs)))
    out.sort(key=lambda c: (c.profile, c.task, c.variation == "all", c.variation, c.engine))
    return out


def pair_tests(cells: list[CellStats]) -> list[PairTest]:
    """Every pair of engines on the same profile/task/variation: two-sided test of equal rates."""
    by: dict[tuple[str, str, str], list[CellStats]] = {}
    for c in cells:
        by.setdefault((c.profile, c.task, c.variation), []).append(c)
    out = []
    for (profile, task, variation), cs in by.items():
        for a, b in combinations(sorted(cs, key=lambda c: c.engine), 2):
            cmp = compare_rates(a.successes, a.trials, b.successes, b.trials)
            out.append(PairTest(task, variation, profile, a.engine, b.engine, a.rate, b.rate, cmp.difference,
                                cmp.p_value, cmp.test))
    return out


def plot_rates(cells: list[CellStats], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups = sorted({(c.profile, c.task, c.variation) for c in cells},
                    key=lambda g: (g[0], g[1], g[2] == "all", g[2]))
    engines = sorted({c.engine for c in cells})
    lookup = {(c.profile, c.task, c.variation, c.engine): c for c in cells}
    multi_profile = len({g[0] for g in groups}) > 1
    width = min(0.35, 0.8 / max(1, len(engines)))
    span = width * len(engines)
    x = np.arange(len(groups))
    fig, ax = plt.subplots(figsize=(max(4.5, 1.3 * len(groups) * max(1, len(engines)) ** 0.5 + 2), 4.0))
    ax.set_xlim(-0.6, len(groups) - 0.4)
    for i, eng in enumerate(engines):
        rates, lo, hi, xs = [], [], [], []
        for j, g in enumerate(groups):
            c = lookup.get((*g, eng))
            if c is None:
                continue
            xs.append(x[j] - span / 2 + width * (i + 0.5))
            rates.append(100 * c.rate)
            lo.append(100 * (c.rate - c.ci_low))
            hi.append(100 * (c.ci_high - c.rate))
        ax.bar(xs, rates, width, yerr=[lo, hi], capsize=4, label=eng)
        for bx, c in zip(xs, [lookup[(*g, eng)] for g in groups if (*g, eng) in lookup]):
            ax.text(bx, 2, f"{c.successes}/{c.trials}", ha="center", va="bottom", fontsize=8, color="white")
    ax.set_xticks(x)
    ax.set_xticklabels([(f"{g[0]}:" if multi_profile else "") + f"{g[1]}\n{g[2]}" for g in groups], fontsize=8)
    ax.set_ylabel("success rate (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Success rate (error bars: Wilson 95% interval)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _p(p: float) -> str:
    return f"{p:.3g}" if p >= 1e-4 else "<1e-4"


def render_markdown(cells: list[CellStats], tests: list[PairTest], rows: list[dict[str, Any]], results: Path,
                    plot_name: str) -> str:
    lines = ["# Success-rate report", "",
             (f"Results: `{results.name}` ({len(rows)} trials). Rates are k/n with Wilson 95% intervals; "
              "engine comparisons are two-sided (Fisher exact when scipy is available, else a pooled z-test)."), "",
             f"![success rates]({plot_name})", "",
             "## Success rates", "",
             "| engine | profile | task | variation | success | rate | Wilson 95% | mean sim s | safety events | interventions |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for c in cells:
        lines.append(f"| {c.engine} | {c.profile} | {c.task} | {c.variation} | {c.successes}/{c.trials} | "
                     f"{_pct(c.rate)} | {_pct(c.ci_low)}–{_pct(c.ci_high)} | {c.mean_sim_seconds:.1f} | "
                     f"{c.safety_events} | {c.interventions} |")
    lines += ["", "## Engine comparison", ""]
    if tests:
        lines += ["| profile | task | variation | engine A | engine B | rate A | rate B | A − B | p | test |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for t in tests:
            lines.append(f"| {t.profile} | {t.task} | {t.variation} | {t.engine_a} | {t.engine_b} | {_pct(t.rate_a)} | "
                         f"{_pct(t.rate_b)} | {100 * t.difference:+.0f} pts | {_p(t.p_value)} | {t.test} |")
    else:
        lines.append("Only one engine in these results: nothing to compare.")
    lines += ["", "## Trials", "",
              "| engine | task | variation | seed | state | sim s | wall s | safety | finished (UTC) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['engine_id']} | {r['task']} | {r['variation']} | {r['seed']} | {r['state']} | "
                     f"{r['sim_seconds']:.1f} | {r['duration_s']:.1f} | {r['safety_events']} | {r['finished_at'][:19]} |")
    return "\n".join(lines) + "\n"


def render_html(cells: list[CellStats], tests: list[PairTest], rows: list[dict[str, Any]], results: Path,
                plot_name: str, frame_links: dict[int, str]) -> str:
    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>Success-rate report</title>",
             ("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
              "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}th{background:#eee}"
              ".ok{color:#070}.bad{color:#a00}img.strip{height:90px}</style></head><body>"),
             "<h1>Success-rate report</h1>",
             (f"<p>Results: <code>{e(results.name)}</code> ({len(rows)} trials). Rates are k/n with Wilson 95% "
              "intervals; engine comparisons are two-sided tests of equal rates.</p>"),
             f"<img src='{e(plot_name)}' alt='success rates'>",
             ("<h2>Success rates</h2><table><tr><th>engine</th><th>profile</th><th>task</th><th>variation</th>"
              "<th>success</th><th>rate</th><th>Wilson 95%</th><th>mean sim s</th><th>safety events</th>"
              "<th>interventions</th></tr>")]
    for c in cells:
        parts.append(f"<tr><td>{e(c.engine)}</td><td>{e(c.profile)}</td><td>{e(c.task)}</td><td>{e(c.variation)}</td>"
                     f"<td>{c.successes}/{c.trials}</td><td>{_pct(c.rate)}</td><td>{_pct(c.ci_low)}–{_pct(c.ci_high)}"
                     f"</td><td>{c.mean_sim_seconds:.1f}</td><td>{c.safety_events}</td><td>{c.interventions}</td></tr>")
    parts.append("</table><h2>Engine comparison</h2>")
    if tests:
        parts.append("<table><tr><th>profile</th><th>task</th><th>variation</th><th>engine A</th><th>engine B</th>"
                     "<th>rate A</th><th>rate B</th><th>A − B</th><th>p</th><th>test</th></tr>")
        for t in tests:
            parts.append(f"<tr><td>{e(t.profile)}</td><td>{e(t.task)}</td><td>{e(t.variation)}</td>"
                         f"<td>{e(t.engine_a)}</td><td>{e(t.engine_b)}</td><td>{_pct(t.rate_a)}</td>"
                         f"<td>{_pct(t.rate_b)}</td><td>{100 * t.difference:+.0f} pts</td><td>{_p(t.p_value)}</td>"
                         f"<td>{t.test}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>Only one engine in these results: nothing to compare.</p>")
    parts.append("<h2>Trials</h2><table><tr><th>engine</th><th>task</th><th>variation</th><th>seed</th>"
                 "<th>state</th><th>sim s</th><th>safety</th><th>frames (start … end)</th></tr>")
    for r in rows:
        cls = "ok" if r["success"] else "bad"
        img = frame_links.get(r["id"])
        cell = f"<img class='strip' src='{e(img)}'>" if img else ""
        parts.append(f"<tr><td>{e(r['engine_id'])}</td><td>{e(r['task'])}</td><td>{e(r['variation'])}</td>"
                     f"<td>{r['seed']}</td><td class='{cls}'>{e(r['state'])}</td><td>{r['sim_seconds']:.1f}</td>"
                     f"<td>{r['safety_events']}</td><td>{cell}</td></tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"


def write_report(results: Path, out: Path) -> dict[str, Path]:
    """Write report.md, report.html, success.png and summary.json into `out`; return their paths."""
    rows = load_results(results)
    if not rows:
        raise ConfigError(f"{results}: no trials recorded yet")
    out.mkdir(parents=True, exist_ok=True)
    cells = cell_stats(rows)
    tests = pair_tests(cells)
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
    md.write_text(render_markdown(cells, tests, rows, results, plot.name))
    page = out / "report.html"
    page.write_text(render_html(cells, tests, rows, results, plot.name, frame_links))
    summary = out / "summary.json"
    summary.write_text(json.dumps({"cells": [asdict(c) for c in cells], "comparisons": [asdict(t) for t in tests]},
                                  indent=2))
    return {"markdown": md, "html": page, "plot": plot, "summary": summary}


HELP = """\
Summarise a `being-h0 bench run` results file: success rate per engine,
task and variation with Wilson 95% intervals (honest at 20 trials and at
0/n or n/n), an 'all' row per task over its variations, pairwise engine
comparisons with two-sided p-values (Fisher exact; z-test without scipy),
a bar plot with interval error bars, and each trial's frame strip (HTML).
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="being-h0 bench report", description=HELP,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="example: being-h0 bench report --results bench/results.sqlite "
                                        "--out bench/report")
    ap.add_argument("--results", required=True, type=Path, help="SQLite file written by `being-h0 bench run`")
    ap.add_argument("--out", required=True, type=Path, help="directory for report.md/.html, success.png, summary.json")
    args = ap.parse_args(argv)
    try:
        paths = write_report(args.results, args.out)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cells = json.loads(paths["summary"].read_text())["cells"]
    for c in cells:
        print(f"{c['engine']:<24} {c['task']}:{c['variation']:<8} {c['successes']:>3}/{c['trials']:<3} "
              f"{100 * c['rate']:5.1f}%  [{100 * c['ci_low']:.1f}%, {100 * c['ci_high']:.1f}%]")
    print(f"report: {paths['markdown']}  {paths['html']}  {paths['plot']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
