"""The success-rate report as Markdown and as HTML: the same tables, the same failed-trial sections."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from .report_stats import CellStats, PairTest
from .results import row_engine_label


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
