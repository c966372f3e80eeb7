"""The report people read, as Markdown (tables and a mermaid chart) and as one self-contained HTML page.

Both carry the same sections, drawn from evals.analysis: what ran, pass rate
by exception type and by rule id, the outcome matrix, the money paid out
and held, pass^k over repeat runs, and every failure with the diff between
expected and produced actions. The HTML embeds plotly.js from the installed
package, so it opens offline. Neither holds a timestamp or a random id: the
same result writes the same bytes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evals.analysis import Analysis, DiffLine, analyse, cents, outcome_label, percent
from evals.runner import CaseResult, SuiteResult

TITLE = "Exception Control Tower: eval report"
SECTIONS = ("Summary", "Pass rate by exception type", "Pass rate by rule id", "Outcomes: expected against produced",
            "Money", "Repeat runs (pass^k)", "Failures", "Cases")
RULE_HEADERS = ("rule", "cases", "passed", "pass rate", "applied", "held", "denied", "rejected", "withdrawn",
                "matched expected", "not expected", "rule says")


def _failure_intro(case: CaseResult, text: Callable[[str], str] = str) -> str:
    title = f"{text(case.title.rstrip('.'))}. " if case.title else ""
    return (f"{title}Expected {outcome_label(case.expected_outcomes)}, produced "
            f"{case.outcome or 'nothing (the run raised)'}.")


def _summary_rows(result: SuiteResult, a: Analysis) -> list[tuple[str, str]]:
    passed = sum(c.passed for c in result.cases)
    violations = sum(c.violation for c in result.cases)
    total = a.money_total
    rows = [("planner", result.planner), ("policy book", f"{result.book_name} ({result.book_version})"),
            ("runs per case", str(result.repeat)), ("cases", str(len(result.cases))),
            ("passed" if result.repeat == 1 else f"passed all {result.repeat} runs", str(passed)),
            ("failed", str(len(result.cases) - passed)), ("policy violations", str(violations)),
            ("paid out (applied)", cents(total.applied_cents)), ("held for approval", cents(total.held_cents))]
    if result.repeat > 1:
        rows.append((f"pass^{result.repeat}", f"{a.pass_hat[result.repeat]:.4f}"))
    return rows


def _type_rows(a: Analysis) -> list[list[str]]:
    return [[t.type, str(t.cases), str(t.passed), percent(t.rate), str(t.violations), str(t.expected_actions),
             str(t.matched)] for t in a.types]


def _rule_rows(a: Analysis) -> list[list[str]]:
    return [[r.rule, str(r.cases), str(r.passed), percent(r.rate), str(r.applied), str(r.held), str(r.denied),
             str(r.rejected), str(r.withdrawn), str(r.matched), str(r.not_expected), r.description] for r in a.rules]


def _money_rows(a: Analysis) -> list[list[str]]:
    rows = [[m.kind, str(m.applied_count), cents(m.applied_cents), str(m.held_count), cents(m.held_cents),
             cents(m.denied_cents)] for m in a.money]
    t = a.money_total
    return [*rows, ["total", str(t.applied_count), cents(t.applied_cents), str(t.held_count), cents(t.held_cents),
                    cents(t.denied_cents)]]


def _case_rows(result: SuiteResult, text: Callable[[str], str] = str) -> list[list[str]]:
    return [[text(c.id), c.exception_type, outcome_label(c.expected_outcomes), c.outcome or "raised",
             f"{c.passes}/{c.runs}", "pass" if c.passed else "FAIL (violation)" if c.violation else "FAIL"]
            for c in result.cases]


TYPE_HEADERS = ("type", "cases", "passed", "pass rate", "violations", "expected actions", "matched")
MONEY_HEADERS = ("kind", "applied", "applied amount", "held", "held amount", "denied amount")
CASE_HEADERS = ("case", "type", "expected", "produced", "runs passed", "result")


# Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&|!~])")
_MD_LINE_START = re.compile(r"^(\s*(?:\d+)?)([#>+=.)-])")


def _md_text(text: str) -> str:
    """Text from a case file (a title, an id) as Markdown that shows it as written: never a link, an
    image, emphasis, HTML or a line-start block."""
    escaped = _MD_SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))
    return _MD_LINE_START.sub(r"\1\\\2", escaped)


def _md_cell(text: str) -> str:
    """A table cell: pipes escaped (once: `_md_text` may have escaped them already), one line."""
    return re.sub(r"(?<!\\)\|", r"\\|", text).replace("\n", " ")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _mermaid_bars(title: str, labels: Sequence[str], values: Sequence[float], axis: str) -> list[str]:
    """A mermaid xychart (rendered by GitHub and most Markdown viewers; plain text elsewhere)."""
    if not labels:
        return []
    names = ", ".join(f'"{label}"' for label in labels)
    return ["```mermaid", "xychart-beta", f'    title "{title}"', f"    x-axis [{names}]",
            f'    y-axis "{axis}" 0 --> 100', f"    bar [{', '.join(f'{v:g}' for v in values)}]", "```", ""]


def _md_code(lang: str, lines: Sequence[str]) -> list[str]:
    """A fenced block whose fence is longer than any run of backticks inside, so no line can close it."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{lang}", *(" ".join(line.splitlines()) for line in lines), fence, ""]


def markdown_report(result: SuiteResult) -> str:
    """The report as Markdown: the sections of SECTIONS, in that order."""
    a = analyse(result)
    out = [f"# {TITLE}", "", "## Summary", ""]
    out += _md_table(("", ""), _summary_rows(result, a))
    out += ["## Pass rate by exception type", ""]
    out += _mermaid_bars("Pass rate by exception type", [t.type for t in a.types],
                         [round(t.rate * 100, 1) for t in a.types], "% passed")
    out += _md_table(TYPE_HEADERS, _type_rows(a))
    out += ["## Pass rate by rule id", "",
            "A case counts under every rule id its produced actions cite; *matched expected* are actions that "
            "matched an expected one, *not expected* applied or held actions that matched none.", ""]
    out += _md_table(RULE_HEADERS, _rule_rows(a))
    out += ["## Outcomes: expected against produced", "", "Rows: the outcome the case expects; columns: what "
            "happened (*raised*: the run raised before an outcome).", ""]
    out += _md_table(("expected \\ produced", *a.produced_columns),
                     [[row, *(str(a.matrix[row][col]) for col in a.produced_columns)] for row in a.expected_rows])
    out += ["## Money", "", "Refunds, store credits and approved returns: applied (would have been paid out), held "
            "for a supervisor, and denied.", ""]
    out += _md_table(MONEY_HEADERS, _money_rows(a))
    out += ["## Repeat runs (pass^k)", ""]
    if result.repeat == 1:
        out += ["One run per case (`--repeat K` runs each case K times).", ""]
    else:
        out += [f"Each case ran {result.repeat} times; it passes^k when all {result.repeat} runs pass.", ""]
        out += _md_table(("k", "pass^k"), [[str(k), f"{v:.4f}"] for k, v in a.pass_hat.items()])
        out += _md_table(("case", "runs passed", "outcomes"),
                         [[_md_text(c.id), f"{c.passes}/{c.runs}", ", ".join(o or "raised" for o in c.run_outcomes)]
                          for c in result.cases])
    out += ["## Failures", ""]
    if not a.failures:
        out += ["None.", ""]
    for case, diff in a.failures:
        flag = " (policy violation)" if case.violation else ""
        out += [f"### {_md_text(case.id)}{flag}", ""]
        out += [_failure_intro(case, _md_text), ""]
        out += [f"- {_md_text(f)}" for f in case.failures] + [""]
        out += _md_code("diff", [f"{d.sign} {d.text}" for d in diff]) if diff else []
    out += ["## Cases", ""]
    out += _md_table(CASE_HEADERS, _case_rows(result, _md_text))
    return "\n".join(out).rstrip("\n") + "\n"


# HTML

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;color:#1f2937;
padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #d1d5db;padding:.25rem .6rem;
text-align:left;vertical-align:top}th{background:#f3f4f6}td.n{text-align:right}
.pass{color:#047857}.fail{color:#b91c1c;font-weight:600}
pre.diff{background:#f9fafb;border:1px solid #e5e7eb;padding:.5rem;white-space:pre-wrap}
.add{color:#b45309}.del{color:#b91c1c}.same{color:#374151}.chart{height:360px}
"""


def _cell(text: str) -> str:
    cls = ' class="n"' if text.replace(",", "").replace("$", "").replace(".", "").replace("%", "").isdigit() else ""
    if text.startswith("FAIL"):
        cls = ' class="fail"'
    elif text == "pass":
        cls = ' class="pass"'
    return f"<td{cls}>{html.escape(text)}</td>"


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _chart(fig: Any, div_id: str) -> str:
    fig.update_layout(template="plotly_white", height=360, margin={"l": 60, "r": 20, "t": 50, "b": 80})
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def _charts(result: SuiteResult, a: Analysis) -> dict[str, str]:
    import plotly.graph_objects as go

    types = [t.type for t in a.types]
    by_type = go.Figure([go.Bar(name="passed", x=types, y=[t.passed for t in a.types], marker_color="#059669"),
                         go.Bar(name="failed", x=types, y=[t.cases - t.passed for t in a.types],
                                marker_color="#dc2626")])
    by_type.update_layout(barmode="stack", title="Cases by exception type", yaxis_title="cases")
    rules = [r.rule for r in a.rules]
    by_rule = go.Figure([go.Bar(name="passed", x=rules, y=[r.passed for r in a.rules], marker_color="#059669"),
                         go.Bar(name="failed", x=rules, y=[r.cases - r.passed for r in a.rules],
                                marker_color="#dc2626")])
    by_rule.update_layout(barmode="stack", title="Cases by rule id cited", yaxis_title="cases")
    z = [[a.matrix[row][col] for col in a.produced_columns] for row in a.expected_rows]
    matrix = go.Figure(go.Heatmap(z=z, x=a.produced_columns, y=a.expected_rows, text=z, texttemplate="%{text}",
                                  colorscale="Blues", showscale=False))
    matrix.update_layout(title="Outcome: expected (rows) against produced (columns)",
                         yaxis={"autorange": "reversed"})
    kinds = [m.kind for m in a.money]
    money = go.Figure([go.Bar(name="applied", x=kinds, y=[m.applied_cents / 100 for m in a.money],
                              marker_color="#2563eb"),
                       go.Bar(name="held", x=kinds, y=[m.held_cents / 100 for m in a.money], marker_color="#f59e0b")])
    money.update_layout(barmode="group", title="Money: applied and held", yaxis_title="USD")
    charts = {"by-type": _chart(by_type, "chart-by-type"), "by-rule": _chart(by_rule, "chart-by-rule"),
              "outcomes": _chart(matrix, "chart-outcomes"), "money": _chart(money, "chart-money")}
    if result.repeat > 1:
        ks = list(a.pass_hat)
        curve = go.Figure(go.Scatter(x=ks, y=[a.pass_hat[k] for k in ks], mode="lines+markers"))
        curve.update_layout(title="pass^k", xaxis_title="k", yaxis={"title": "pass^k", "range": [0, 1.05]},
                            xaxis={"dtick": 1})
        charts["pass-hat"] = _chart(curve, "chart-pass-hat")
    return charts


def _diff_html(diff: Sequence[DiffLine]) -> str:
    cls = {"+": "add", "-": "del", " ": "same"}
    lines = "\n".join(f'<span class="{cls[d.sign]}">{html.escape(d.sign + " " + d.text)}</span>' for d in diff)
    return f'<pre class="diff">{lines}</pre>' if diff else ""


def html_report(result: SuiteResult) -> str:
    """The report as one HTML page with plotly.js inline: the sections of SECTIONS, in that order."""
    from plotly.offline import get_plotlyjs

    a = analyse(result)
    charts = _charts(result, a)
    h: list[str] = [f"<h1>{html.escape(TITLE)}</h1>", "<h2>Summary</h2>",
                    _html_table(("", ""), _summary_rows(result, a)),
                    "<h2>Pass rate by exception type</h2>", charts["by-type"], _html_table(TYPE_HEADERS, _type_rows(a)),
                    "<h2>Pass rate by rule id</h2>",
                    "<p>A case counts under every rule id its produced actions cite; <em>matched expected</em> are "
                    "actions that matched an expected one, <em>not expected</em> applied or held actions that matched "
                    "none.</p>", charts["by-rule"], _html_table(RULE_HEADERS, _rule_rows(a)),
                    "<h2>Outcomes: expected against produced</h2>", charts["outcomes"],
                    _html_table(("expected \\ produced", *a.produced_columns),
                                [[row, *(str(a.matrix[row][c]) for c in a.produced_columns)]
                                 for row in a.expected_rows]),
                    "<h2>Money</h2>", "<p>Refunds, store credits and approved returns: applied (would have been paid "
                    "out), held for a supervisor, and denied.</p>", charts["money"],
                    _html_table(MONEY_HEADERS, _money_rows(a)), "<h2>Repeat runs (pass^k)</h2>"]
    if result.repeat == 1:
        h.append("<p>One run per case (<code>--repeat K</code> runs each case K times).</p>")
    else:
        h += [f"<p>Each case ran {result.repeat} times; it passes^k when all {result.repeat} runs pass.</p>",
              charts["pass-hat"], _html_table(("k", "pass^k"), [[str(k), f"{v:.4f}"] for k, v in a.pass_hat.items()]),
              _html_table(("case", "runs passed", "outcomes"),
                          [[c.id, f"{c.passes}/{c.runs}", ", ".join(o or "raised" for o in c.run_outcomes)]
                           for c in result.cases])]
    h.append("<h2>Failures</h2>")
    if not a.failures:
        h.append("<p>None.</p>")
    for case, diff in a.failures:
        flag = " (policy violation)" if case.violation else ""
        h.append(f'<h3 class="fail">{html.escape(case.id + flag)}</h3>')
        h.append(f"<p>{html.escape(_failure_intro(case))}</p>")
        h.append("<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in case.failures) + "</ul>")
        h.append(_diff_html(diff))
    h += ["<h2>Cases</h2>", _html_table(CASE_HEADERS, _case_rows(result))]
    body = "\n".join(h)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(TITLE)}</title>\n'
            f"<style>{_CSS}</style>\n<script>{get_plotlyjs()}</script>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def write_pages(result: SuiteResult, *, html_path: Path | None = None, markdown_path: Path | None = None) -> None:
    """Write whichever of the two pages has a path."""
    for path, render in ((html_path, html_report), (markdown_path, markdown_report)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(result), encoding="utf-8")
