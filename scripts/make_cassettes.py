"""Write hand-made vcrpy cassettes for the LLM planner: the exact request it sends, a hand-written reply.

No model endpoint is reachable where these are made, so the replies are
written by hand (an answers YAML: per case id, the list of replies, one per
model call; `{raw: "..."}` is a reply sent as-is, for malformed output). The
requests are not written by hand: the planner itself runs on each case's
facts against an in-memory transport, so the cassette holds the bytes it
really sends with this prompt, this book and this openai version. Run it
again after any change to the prompt and the cassettes match again:

    .venv/bin/python scripts/make_cassettes.py ../shared/cases evals/cassettes/answers/shared.yaml \
        evals/cassettes/shared
    .venv/bin/python scripts/make_cassettes.py ../shared/cases-then evals/cassettes/answers/then.yaml \
        evals/cassettes/then
    .venv/bin/python scripts/make_cassettes.py evals/suites/then evals/cassettes/answers/suite-then.yaml \
        evals/cassettes/suite-then
    .venv/bin/python scripts/make_cassettes.py tests/agents/cassettes/cases \
        tests/agents/cassettes/answers.yaml tests/agents/cassettes

A case with `then` steps is run whole, as `tower eval run` runs it: its events plan it again through the
outbox's consumer, and every model call (the first plan, then each re-plan) takes the next reply, in order.

`--check` writes nothing and exits 1 when a cassette is missing or stale.
`--policy FILE` makes them for a policy book variant (the prompt carries the
book's numbers, so a variant's run needs its own recordings).
Every cassette is replayed once through vcrpy after writing, as a check.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx2
import yaml
from vcr.request import Request as VcrRequest
from vcr.serialize import serialize
from vcr.serializers import yamlserializer

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agents.planners.base import PlannerFailure  # noqa: E402
from agents.planners.llm import DEFAULT_BASE_URL, LLMPlanner, LLMSettings  # noqa: E402
from agents.prompts import prompt_id  # noqa: E402
from core.clock import FixedClock  # noqa: E402
from core.exceptions import raise_exception  # noqa: E402
from core.facts import Facts, load_facts  # noqa: E402
from core.store import UnitOfWork, fresh_memory_engine  # noqa: E402
from core.world import import_world  # noqa: E402
from evals.case import Case  # noqa: E402
from policies.book import BOOK, PolicyBook, carbon_cents_per_kg, load_book  # noqa: E402

MODEL = "gpt-4o-mini"
SNAPSHOT = "gpt-4o-mini-2024-07-18"
KEPT_REQUEST_HEADERS = ("accept", "content-type")
HEADER = """\
# HAND-WRITTEN: no model endpoint was reachable when this cassette was made.
# The request is the exact one the LLM planner sends for case {case_id!r} (prompt {prompt}, model {model});
# the reply is written by hand in the Chat Completions wire format. Token counts are estimates
# (characters / 4). Regenerate with scripts/make_cassettes.py after any prompt change; never edit by hand.
"""


def load_case(path: Path) -> Case:
    return Case.model_validate(json.loads(path.read_text(encoding="utf-8")))


def case_facts(case: Case, book: PolicyBook = BOOK) -> Facts:
    """The facts the graph's first node gathers for this case's exception."""
    engine = fresh_memory_engine()
    try:
        import_world(engine, case.world)
        fields = case.exception.model_dump(exclude={"type"}, exclude_none=True)
        with UnitOfWork(engine) as uow:
            exc = raise_exception(uow, type=case.exception.type, at=case.now, **fields)
            exception_id = exc.id
            uow.commit()
        with UnitOfWork(engine) as uow:
            return load_facts(uow.session, exception_id, FixedClock(case.now).now(),
                              carbon_cents_per_kg(case.world.settings.carbon_cents_per_kg, book))
    finally:
        engine.dispose()


def completion_body(case_id: str, n: int, content: str, prompt_chars: int, created: int) -> dict[str, Any]:
    prompt_tokens, completion_tokens = prompt_chars // 4, max(len(content) // 4, 1)
    return {
        "id": f"chatcmpl-HANDWRITTEN-{case_id}-{n}", "object": "chat.completion", "created": created,
        "model": SNAPSHOT,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None,
                                             "annotations": []},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
        "service_tier": "default", "system_fingerprint": "fp_handwritten",
    }


def reply_content(reply: Any) -> str:
    if isinstance(reply, dict) and set(reply) == {"raw"}:
        return str(reply["raw"])
    return json.dumps(reply, ensure_ascii=False)


def settings(model: str = MODEL) -> LLMSettings:
    """The canonical settings of shipped cassettes, whatever the environment says."""
    return LLMSettings(model=model, base_url=DEFAULT_BASE_URL, api_key=None, temperature=0.0, seed=7,
                       max_completion_tokens=2000)


def build_cassette(case: Case, replies: Sequence[Any], model: str = MODEL, book: PolicyBook = BOOK) -> str:
    """The cassette text: the planner's real requests under `book` paired with the given replies, in call order."""
    facts = case_facts(case, book)
    created = int(case.now.timestamp())
    requests: list[VcrRequest] = []
    responses: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        n = len(requests)
        if n >= len(replies):
            raise RuntimeError(f"case {case.id}: the planner made call {n + 1}, the answers give {len(replies)}")
        body = request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in KEPT_REQUEST_HEADERS}
        requests.append(VcrRequest(request.method, str(request.url), body, headers))
        content = reply_content(replies[n])
        payload = json.dumps(completion_body(case.id, n + 1, content, len(body), created), ensure_ascii=False)
        responses.append({"status": {"code": 200, "message": "OK"},
                          "headers": {"content-type": ["application/json"],
                                      "x-request-id": [f"req_handwritten_{case.id}_{n + 1}"]},
                          "body": {"string": payload}})
        return httpx2.Response(200, content=payload.encode("utf-8"), headers={"content-type": "application/json"})

    planner = LLMPlanner(settings(model), book=book,
                         http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    if case.then:  # its events plan it again: every call of the whole run, first plan and re-plans, in order
        run_whole(case, planner, book)
    else:
        with suppress(PlannerFailure):  # a hostile answer (malformed twice) ends here: that is the point of it
            planner.plan(facts)
    if len(requests) != len(replies):
        raise RuntimeError(f"case {case.id}: the planner made {len(requests)} calls, the answers give {len(replies)}")
    text = serialize({"requests": requests, "responses": responses}, yamlserializer)
    return HEADER.format(case_id=case.id, prompt=prompt_id(book), model=model) + text


def run_whole(case: Case, planner: LLMPlanner, book: PolicyBook) -> Any:
    """Run a case with `then` steps as `tower eval run` does (the re-plans its events call for ask the model too)."""
    from agents.planners.scripted import ScriptedPlanner
    from evals.loader import LoadedCase
    from evals.runner import default_work, run_case

    used: Any = planner if case.proposals is None else ScriptedPlanner(case.proposals, then=planner)
    return run_case(LoadedCase(path=ROOT / f"{case.id}.json", case=case), work=default_work(),
                    planner_for=lambda _item: used, book=book)


def replay_check(case: Case, out_dir: Path, model: str = MODEL, book: PolicyBook = BOOK) -> None:
    """Replay the written cassette through vcrpy exactly as an eval does; raises when it does not play."""
    planner = LLMPlanner.from_settings(cassette_dir=out_dir, case_id=case.id, model=model, base_url=DEFAULT_BASE_URL,
                                       api_key=None, temperature=0.0, seed=7, max_completion_tokens=2000, book=book)
    if case.then:
        result = run_whole(case, planner, book)
        unplayed = [f for f in result.failures if "cassette" in f.lower() or "planner" in f.lower()]
        if unplayed:
            raise RuntimeError(f"case {case.id}: the cassette does not replay: {unplayed}")
        return
    with suppress(PlannerFailure):
        planner.plan(case_facts(case, book))


def case_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*.json") if "cassettes" not in p.relative_to(root).parts[:-1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", type=Path, help="a case file or a folder of them")
    parser.add_argument("answers", type=Path, help="YAML: case id -> list of replies")
    parser.add_argument("out", type=Path, help="folder for <case id>.yaml")
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any cassette differs")
    parser.add_argument("--policy", type=Path, help="a policy book variant (JSON laid over the default book)")
    args = parser.parse_args(argv)
    try:
        book = load_book(args.policy) if args.policy is not None else BOOK
    except ValueError as err:
        print(f"the policy book cannot be loaded: {err}", file=sys.stderr)
        return 2
    answers: dict[str, list[Any]] = yaml.safe_load(args.answers.read_text(encoding="utf-8")) or {}
    cases = {c.id: c for c in (load_case(p) for p in case_files(args.cases))}
    missing = sorted(set(cases) - set(answers))
    unknown = sorted(set(answers) - set(cases))
    if missing or unknown:
        print(f"answers missing for {missing}; answers for unknown cases {unknown}", file=sys.stderr)
        return 2
    stale = []
    args.out.mkdir(parents=True, exist_ok=True)
    for case_id in sorted(cases):
        text = build_cassette(cases[case_id], answers[case_id], args.model, book)
        path = args.out / f"{case_id}.yaml"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
            continue
        path.write_text(text, encoding="utf-8")
        replay_check(cases[case_id], args.out, args.model, book)
        print(f"wrote {path} ({len(answers[case_id])} call(s))")
    if stale:
        print(f"stale cassettes (run scripts/make_cassettes.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
