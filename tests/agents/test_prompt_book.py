"""The LLM prompt's book is rendered from the run's PolicyBook: every number from the data, the prose from the spec.

No copy of the shipped numbers lives in the prompt: change any field of the book and the prompt every exception
type gets says the new value; render the shipped book and it reads as shared/spec/policy.md (whitespace aside).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import agents.prompts as prompts
from agents.prompts.book import _flatten, render_book, template
from policies.book import BOOK, PolicyBook

REPO = Path(__file__).resolve().parents[2]
SHARED_BOOK = REPO.parent / "shared" / "spec" / "policy.md"
SECTION_ONE_PARAGRAPHS = ("What a planner may obtain.", "Held cases.", "Messages wait with the decision they announce.",
                          "Nothing to do.", "Deciding held actions.", "Plans go stale.", "No order left stranded.")
LEAVES = [path for path, _ in _flatten(BOOK.model_dump(mode="json"))]


def words(text: str) -> str:
    return " ".join(text.split())


def every_prompt(book: PolicyBook) -> str:
    """The book text of the prompts of all four exception types, together."""
    return "\n".join(prompts.sections_for(kind, book) for kind in sorted(prompts.SECTIONS))


def with_value(path: str, value: Any) -> PolicyBook:
    data = BOOK.model_dump(mode="json")
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[last] = value
    return PolicyBook.model_validate(data)


def changed(value: Any) -> tuple[Any, str]:
    """Another value for a field, and the text it must show up as in the prompt."""
    if isinstance(value, list):
        return [*value, "zz_added"], "zz_added"
    if isinstance(value, str):
        return f"{value}_zz", f"{value}_zz"
    if isinstance(value, float):
        new = round(value + 0.07, 2)
        return new, f"{new:.2f}" if new < 1 else repr(new)
    new = value * 10 + 7
    return new, f"{new:,}"


@pytest.mark.skipif(not SHARED_BOOK.exists(), reason="../shared/spec/policy.md is not here")
def test_the_shipped_book_renders_as_the_spec() -> None:
    """The prose tracks the spec: the template with the shipped numbers is policy.md, word for word."""
    spec, rendered = words(SHARED_BOOK.read_text(encoding="utf-8")), words(render_book(BOOK))
    if spec != rendered:
        at = next(i for i, (x, y) in enumerate(zip(spec, rendered, strict=False)) if x != y)
        pytest.fail("agents/prompts/policy_book.md rendered with the shipped book differs from shared/spec/policy.md "
                    f"at …{spec[max(0, at - 80):at + 80]}… (rendered: …{rendered[max(0, at - 80):at + 80]}…); "
                    "change the template's prose, keep numbers as placeholders, regenerate the cassettes")


@pytest.mark.parametrize("path", LEAVES)
def test_every_field_of_the_book_reaches_the_prompt(path: str) -> None:
    default = dict(_flatten(BOOK.model_dump(mode="json")))[path]
    value, shown = changed(default)
    variant = with_value(path, value)
    before, after = every_prompt(BOOK), every_prompt(variant)
    assert after.count(shown) > before.count(shown), f"{path} = {value!r} does not reach the prompt"
    assert prompts.prompt_id(variant) != prompts.prompt_id(BOOK)


def test_the_template_holds_no_number_of_the_book() -> None:
    """No shipped number is also written out in the template (where a variant would leave it stale).

    Checked for the numbers that cannot be mistaken for other text: scores (0.30) and amounts (1,500).
    """
    text = template()
    numbers = {v for _, v in _flatten(BOOK.model_dump(mode="json")) if isinstance(v, int | float)}
    shown = {f"{v:.2f}" for v in numbers if 0 < v < 1} | {f"{int(v):,}" for v in numbers if v >= 1_000}
    assert shown and [s for s in sorted(shown) if s in text] == []


@pytest.mark.parametrize("kind", sorted(prompts.SECTIONS))
def test_every_prompt_carries_section_one_whole(kind: str) -> None:
    text = prompts.sections_for(kind, BOOK)
    for title in SECTION_ONE_PARAGRAPHS:
        assert f"**{title}**" in text, f"{title!r} is missing from the {kind} prompt"


@pytest.mark.skipif(not SHARED_BOOK.exists(), reason="../shared/spec/policy.md is not here")
def test_every_paragraph_title_of_the_spec_is_in_the_rendered_book() -> None:
    rendered = render_book(BOOK)
    titles = re.findall(r"\*\*([^*]+\.)\*\*", SHARED_BOOK.read_text(encoding="utf-8"))
    assert set(SECTION_ONE_PARAGRAPHS) <= set(titles)
    assert [t for t in titles if f"**{t}**" not in rendered] == []


def test_a_variant_book_is_named_in_the_title_and_changes_the_prompt_id() -> None:
    variant = BOOK.model_copy(update={"name": "strict"})
    assert render_book(variant).startswith("# The strict policy book")
    assert render_book(BOOK).startswith("# The default policy book")
    assert prompts.prompt_id(variant) != prompts.prompt_id(BOOK)
    assert prompts.prompt_id(BOOK) == prompts.prompt_id(PolicyBook())  # the same book, the same prompt
