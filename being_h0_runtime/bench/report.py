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
import html
import json
import os
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from ..config import ConfigError
from .results import iter_cells, load_results, row_engine_label
from .stats import compare_rates, wilson_interval


@dataclass
class CellStats:
    engine: str
    strategy: str
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
    #: failed trials by phase ("carry": 2, "grasp": 1)
    failures_by_phase: dict[str, int]

    @property
    def series(self) -> str:
        return f"{self.engine} · {self.strategy}" if self.strategy else self.engine


@dataclass
class PairTest:
    """Two cells that differ in one thing only (the engine, or the strategy): is the rate different?"""

    kind: str  # "engine" | "strategy"
    profile: str
    task: str
    variation: str
    fixed: str  # the strategy (engine comparisons) or the engine (strategy comparisons)
    a: str
    b: str
    k_a: int
    n_a: int
    k_b: int
    n_b: int
    rate_a: float
    rate_b: float
    difference: float
    p_value: float
    test: str


def cell_stats(rows: list[dict[str, Any]]) -> list[CellStats]:
    out = []
    for (engine, strategy, profile, task, variation), rs in iter_cells(rows):
        k, n = sum(r["success"] for r in rs), len(rs)
        lo, hi = wilson_interval(k, n)
        phases = Counter(r.get("failure_phase") or r["state"] for r in rs if not r["success"])
        out.append(CellStats(engine, strategy, profile, task, variation, k, n, k / n, lo, hi,
                             sum(r["sim_seconds"] for r in rs) / n, sum(r["safety_events"] for r in rs),
                             sum(r["interventions"] for r in rs), dict(phases)))
    # per-task aggregate over variations ("all"), when a task has more than one variation
    agg: dict[tuple[str, str, str, str], list[CellStats]] = {}
    for c in out:
        agg.setdefault((c.engine, c.strategy, c.profile, c.task), []).append(c)
    for (engine, strategy, profile, task), cs in agg.items():
        if len(cs) > 1:
            k, n = sum(c.successes for c in cs), sum(c.trials for c in cs)
            lo, hi = wilson_interval(k, n)
            phases: Counter[str] = Counter()
            for c in cs:
                phases.update(c.failures_by_phase)
            out.append(CellStats(engine, strategy, profile, task, "all", k, n, k / n, lo, hi,
                                 sum(c.mean_sim_seconds * c.trials for c in cs) / n,
                                 sum(c.safety_events for c in cs), sum(c.interventions for c in cs), dict(phases)))
    out.sort(key=lambda c: (c.profile, c.task, c.variation == "all", c.variation, c.engine, c.strategy))
    return out


def pair_tests(cells: list[CellStats], kind: str = "engine") -> list[PairTest]:
    """Fisher exact tests (two-sided) between cells that differ only in the engine (`kind="engine"`, same
    strategy) or only in the strategy (`kind="strategy"`, same engine), per profile/task/variation."""
    by: dict[tuple[str, str, str, str], list[CellStats]] = {}
    for c in cells:
        fixed = c.strategy if kind == "engine" else c.engine
        by.setdefault((c.profile, c.task, c.variation, fixed), []).append(c)
    out = []
    for (profile, task, variation, fixed), cs in by.items():
        name = (lambda c: c.engine) if kind == "engine" else (lambda c: c.strategy)
        for a, b in combinations(sorted(cs, key=name), 2):
            cmp = compare_rates(a.successes, a.trials, b.successes, b.trials)
            out.append(PairTest(kind, profile, task, variation, fixed, name(a), name(b), a.successes, a.trials,
                                b.successes, b.trials, a.rate, b.rate, cmp.difference, cmp.p_value, cmp.test))
    return out


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


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _p(p: float) -> str:
    return f"{p:.3g}" if p >= 1e-4 else "<1e-4"


def _phases(c: CellStats) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(c.failures_by_phase.items(), key=lambda kv: -kv[1])) or "-"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _pair_md(title: str, tests: list[PairTest], fixed: str, what: str, none: str) -> list[str]:
    lines = ["", f"## {title}", ""]
    if not tests:
        return lines + [none]
    lines += [f"| profile | task | variation | {fixed} | {what} A | {what} B | A | B | A − B | p (Fisher) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for t in tests:
        lines.append(f"| {t.profile} | {t.task} | {t.variation} | {t.fixed or '-'} | {t.a or '-'} | {t.b or '-'} | "
                     f"{t.k_a}/{t.n_a} | {t.k_b}/{t.n_b} | {100 * t.difference:+.0f} pts | {_p(t.p_value)}"
                     f"{'' if t.test == 'fisher' else f' ({t.test})'} |")
    return lines


def failed_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if not r["success"]]


#: the success-rate table's columns, in the Markdown and the HTML report alike
RATE_COLUMNS = ("engine", "strategy", "profile", "task", "variation", "success", "rate", "Wilson 95%",
                "mean sim s", "failures by phase", "safety events", "interventions")


def _rate_cells(c: CellStats) -> list[str]:
    """One cell's row of the success-rate table, as text (the renderers escape it as they need)."""
    return [c.engine, c.strategy or "-", c.profile, c.task, c.variation, f"{c.successes}/{c.trials}",
            _pct(c.rate), f"{_pct(c.ci_low)}–{_pct(c.ci_high)}", f"{c.mean_sim_seconds:.1f}", _phases(c),
            str(c.safety_events), str(c.interventions)]


def _failure_title(r: dict[str, Any]) -> str:
    """A failed trial's heading: engine · strategy · task:variation seed N."""
    return f"{row_engine_label(r)} · {r.get('strategy') or '-'} · {r['task']}:{r['variation']} seed {r['seed']}"


def render_markdown(cells: list[CellStats], engine_tests: list[PairTest], strategy_tests: list[PairTest],
                    rows: list[dict[str, Any]], results: Path, plot_name: str, frame_links: dict[int, str]) -> str:
    lines = ["# Success-rate report", "",
             (f"Results: `{results.name}` ({len(rows)} trials). Rates are k/n with Wilson 95% intervals; "
              "comparisons are two-sided Fisher exact tests between cells that differ in one thing only."), "",
             f"![success rates]({plot_name})", "",
             "## Success rates", "",
             "| " + " | ".join(RATE_COLUMNS) + " |",
             "|" + "---|" * len(RATE_COLUMNS)]
    for c in cells:
        lines.append("| " + " | ".join(_rate_cells(c)) + " |")
    lines += _pair_md("Engine vs engine", engine_tests, "strategy", "engine",
                      "One engine per strategy and task in these results: no engine comparison.")
    lines += _pair_md("Strategy vs strategy", strategy_tests, "engine", "strategy",
                      "One strategy per engine and task in these results: no strategy comparison "
                      "(`bench run --strategy NAME` adds one).")
    failed = failed_rows(rows)
    lines += ["", f"## Failed trials ({len(failed)})", ""]
    for r in failed:
        lines += [f"### {_failure_title(r)} — {r['state']}", "",
                  f"- **phase:** {r.get('failure_phase') or '-'}",
                  f"- **why:** {r.get('failure_reason') or r['message']}"]
        if r.get("events"):
            lines.append("- **milestones:** " + ", ".join(f"{t:.1f} s {what}" for t, what in r["events"]))
        if r.get("command"):
            lines.append(f"- **reproduce:** `{r['command']}`")
        if r["id"] in frame_links:
            lines += ["", f"[![frames of seed {r['seed']}]({frame_links[r['id']]})]({frame_links[r['id']]})"]
        lines.append("")
    if not failed:
        lines.append("None.")
    lines += ["", "## Trials", "",
              "| engine | strategy | task | variation | seed | state | phase | sim s | wall s | safety | why |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {row_engine_label(r)} | {r.get('strategy') or '-'} | {r['task']} | {r['variation']} | "
                     f"{r['seed']} | {r['state']} | {r.get('failure_phase') or '-'} | {r['sim_seconds']:.1f} | "
                     f"{r['duration_s']:.1f} | {r['safety_events']} | "
                     f"{_md_cell(r.get('failure_reason') or '') or '-'} |")
    return "\n".join(lines) + "\n"


def _pair_html(title: str, tests: list[PairTest], fixed: str, what: str, none: str) -> list[str]:
    e = html.escape
    parts = [f"<h2>{e(title)}</h2>"]
    if not tests:
        return parts + [f"<p>{e(none)}</p>"]
    parts.append(f"<table><tr><th>profile</th><th>task</th><th>variation</th><th>{fixed}</th><th>{what} A</th>"
                 f"<th>{what} B</th><th>A</th><th>B</th><th>A − B</th><th>p (Fisher)</th></tr>")
    for t in tests:
        parts.append(f"<tr><td>{e(t.profile)}</td><td>{e(t.task)}</td><td>{e(t.variation)}</td>"
                     f"<td>{e(t.fixed or '-')}</td><td>{e(t.a or '-')}</td><td>{e(t.b or '-')}</td>"
                     f"<td>{t.k_a}/{t.n_a}</td><td>{t.k_b}/{t.n_b}</td><td>{100 * t.difference:+.0f} pts</td>"
                     f"<td>{_p(t.p_value)}{'' if t.test == 'fisher' else ' (' + e(t.test) + ')'}</td></tr>")
    parts.append("</table>")
    return parts


def render_html(cells: list[CellStats], engine_tests: list[PairTest], strategy_tests: list[PairTest],
                rows: list[dict[str, Any]], results: Path, plot_name: str, frame_links: dict[int, str]) -> str:
    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>Success-rate report</title>",
             ("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
              "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;vertical-align:top}th{background:#eee}"
              ".ok{color:#070}.bad{color:#a00}img.strip{height:90px}img.fail{max-width:100%}"
              "code{font-size:12px;background:#f4f4f4;padding:1px 3px}.failure{margin:1.5em 0}</style></head><body>"),
             "<h1>Success-rate report</h1>",
             (f"<p>Results: <code>{e(results.name)}</code> ({len(rows)} trials). Rates are k/n with Wilson 95% "
              "intervals; comparisons are two-sided Fisher exact tests between cells that differ in one thing "
              "only.</p>"),
             f"<img src='{e(plot_name)}' alt='success rates'>",
             "<h2>Success rates</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in RATE_COLUMNS) + "</tr>"]
    for c in cells:
        parts.append("<tr>" + "".join(f"<td>{e(v)}</td>" for v in _rate_cells(c)) + "</tr>")
    parts.append("</table>")
    parts += _pair_html("Engine vs engine", engine_tests, "strategy", "engine",
                        "One engine per strategy and task in these results: no engine comparison.")
    parts += _pair_html("Strategy vs strategy", strategy_tests, "engine", "strategy",
                        "One strategy per engine and task in these results: no strategy comparison "
                        "(bench run --strategy NAME adds one).")
    failed = failed_rows(rows)
    parts.append(f"<h2>Failed trials ({len(failed)})</h2>")
    for r in failed:
        anchor = f"trial-{r['id']}"
        parts.append(f"<div class='failure' id='{anchor}'><h3>{e(_failure_title(r))} — "
                     f"<span class='bad'>{e(r['state'])}</span></h3><ul>"
                     f"<li><b>phase:</b> {e(r.get('failure_phase') or '-')}</li>"
                     f"<li><b>why:</b> {e(r.get('failure_reason') or r['message'])}</li>")
        if r.get("events"):
            parts.append("<li><b>milestones:</b> " + e(", ".join(f"{t:.1f} s {w}" for t, w in r["events"])) + "</li>")
        if r.get("command"):
            parts.append(f"<li><b>reproduce:</b> <code>{e(r['command'])}</code></li>")
        parts.append("</ul>")
        if r["id"] in frame_links:
            src = e(frame_links[r["id"]])
            parts.append(f"<a href='{src}'><img class='fail' src='{src}' alt='frames of the failed trial'></a>")
        parts.append("</div>")
    if not failed:
        parts.append("<p>None.</p>")
    parts.append("<h2>Trials</h2><table><tr><th>engine</th><th>strategy</th><th>task</th><th>variation</th>"
                 "<th>seed</th><th>state</th><th>phase / why</th><th>sim s</th><th>safety</th>"
                 "<th>frames (start … end)</th></tr>")
    for r in rows:
        cls = "ok" if r["success"] else "bad"
        img = frame_links.get(r["id"])
        cell = f"<a href='{e(img)}'><img class='strip' src='{e(img)}'></a>" if img else ""
        why = (f"<a href='#trial-{r['id']}'>{e(r.get('failure_phase') or r['state'])}</a>: "
               f"{e(r.get('failure_reason') or r['message'])}") if not r["success"] else ""
        parts.append(f"<tr><td>{e(row_engine_label(r))}</td><td>{e(r.get('strategy') or '-')}</td>"
                     f"<td>{e(r['task'])}</td><td>{e(r['variation'])}</td><td>{r['seed']}</td>"
                     f"<td class='{cls}'>{e(r['state'])}</td><td>{why}</td><td>{r['sim_seconds']:.1f}</td>"
                     f"<td>{r['safety_events']}</td><td>{cell}</td></tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"


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
