"""The report people read: Markdown and self-contained HTML beside the JSON, every section, same bytes each run."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from eval_factories import (
    HELD_OVER_CEILING,
    RELEASED_WITH_DENIED_REFUND,
    FakeWork,
    invoke,
    make_case,
    mixed_suite,
    planner_per_case,
    write_case,
)

from evals.loader import load_suite
from evals.pages import SECTIONS, html_report, markdown_report
from evals.runner import run_suite


def suite_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "suite"
    write_case(folder, "a.json", make_case("a"))
    write_case(folder, "c.json", make_case("c", exception={"type": "fraud_hold", "order_id": "O-1"},
                                           expect={"outcome": "approval"}))
    return folder


def work() -> FakeWork:
    return FakeWork(answers={"c": RELEASED_WITH_DENIED_REFUND})


def test_with_a_json_report_the_html_and_markdown_pages_are_written_beside_it(tmp_path: Path) -> None:
    out = tmp_path / "out" / "base.json"
    result = invoke(work(), "run", str(suite_folder(tmp_path)), "--report", str(out))
    assert result.exit_code == 1
    assert sorted(p.name for p in out.parent.iterdir()) == ["base.html", "base.json", "base.md"]
    assert "Report written to" in result.stderr and "base.html" in result.stderr


def test_a_json_report_named_like_a_page_is_not_overwritten_by_it(tmp_path: Path) -> None:
    out = tmp_path / "out" / "report.md"
    invoke(work(), "run", str(suite_folder(tmp_path)), "--report", str(out))
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.html", "report.md", "report.md.md"]
    assert out.read_text().startswith("{")


def test_html_and_markdown_options_choose_the_paths_without_a_json_report(tmp_path: Path) -> None:
    html, md = tmp_path / "pages" / "eval.html", tmp_path / "pages" / "eval.md"
    result = invoke(work(), "run", str(suite_folder(tmp_path)), "--html", str(html), "--markdown", str(md))
    assert result.exit_code == 1
    assert sorted(p.name for p in html.parent.iterdir()) == ["eval.html", "eval.md"]


def test_the_markdown_page_has_every_section_in_order_and_a_chart(tmp_path: Path) -> None:
    text = markdown_report(mixed_suite(tmp_path))
    positions = [text.index(f"## {section}\n") for section in SECTIONS]
    assert positions == sorted(positions)
    assert "```mermaid\nxychart-beta" in text
    assert "| D1 | 2 | 2 | 100% | 2 | 0 | 0 | 0 | 0 | 1 | 1 |" in text
    assert "| approval | 1 | 1 | 0 |" in text  # expected approval: one came out auto, one approval
    assert "| refund (shipping_fee) | 1 | $15.00 | 1 | $60.00 | $0.00 |" in text
    assert "### c (policy violation)" in text
    assert "```diff\n- expected notify_customer (topic verification)\n+ produced release_hold" in text
    assert "| paid out (applied) | $15.00 |" in text and "| held for approval | $60.00 |" in text


def test_the_html_page_is_self_contained_with_plotly_inline_and_every_section(tmp_path: Path) -> None:
    text = html_report(mixed_suite(tmp_path))
    assert "<script src" not in text and "cdn" not in text.split("<body>")[1].lower()
    assert text.count("<script>") >= 5 and len(text) > 1_000_000  # plotly.js itself is inline
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in text
    for chart in ("chart-by-type", "chart-by-rule", "chart-outcomes", "chart-money"):
        assert f'id="{chart}"' in text
    assert '<span class="del">- expected notify_customer (topic verification)</span>' in text


def test_repeat_runs_add_the_pass_hat_k_table_and_chart(tmp_path: Path) -> None:
    result = mixed_suite(tmp_path, repeat=2, answers={"b": HELD_OVER_CEILING})
    md, html = markdown_report(result), html_report(result)
    assert "Each case ran 2 times" in md and "| 2 | 0.7500 |" in md  # c fails both runs: 3 of 4 pass
    assert "| b | 2/2 | approval, approval |" in md
    assert 'id="chart-pass-hat"' in html


def test_pages_are_byte_identical_run_to_run_and_hold_no_timestamp(tmp_path: Path) -> None:
    first = tmp_path / "one" / "r.json"
    second = tmp_path / "two" / "r.json"
    folder = suite_folder(tmp_path)
    invoke(work(), "run", str(folder), "--report", str(first))
    invoke(work(), "run", str(folder), "--report", str(second))
    today = datetime.now(UTC).date().isoformat()
    for suffix in (".json", ".html", ".md"):
        assert first.with_suffix(suffix).read_bytes() == second.with_suffix(suffix).read_bytes()
        assert today not in first.with_suffix(suffix).read_text()


HOSTILE_TITLE = "<img src=x onerror=alert(1)> [click](https://evil.example) **now** `code` | cell"


def test_the_markdown_page_shows_case_titles_and_ids_as_text_not_markup(tmp_path: Path) -> None:
    write_case(tmp_path, "x.json", make_case("x_<b>evil</b>", title=HOSTILE_TITLE,
                                             expect={"outcome": "approval"}))
    result = run_suite(load_suite([tmp_path]), work=FakeWork(answers={"x_<b>evil</b>": RELEASED_WITH_DENIED_REFUND}),
                       planner_for=planner_per_case)
    text = markdown_report(result)
    for raw in ("<img", "<b>", "[click]", "**now**", "`code`"):  # none left unescaped
        assert not re.search(r"(?<!\\)" + re.escape(raw), text), raw
    assert ("\\<img src=x onerror=alert(1)\\> \\[click\\](https://evil.example) \\*\\*now\\*\\* \\`code\\` "
            "\\| cell. Expected") in text
    assert "### x\\_\\<b\\>evil\\</b\\> (policy violation)" in text
    assert "| x\\_\\<b\\>evil\\</b\\> | delay | approval | auto |" in text
