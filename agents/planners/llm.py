"""The LLM planner: a model behind the OpenAI Chat Completions API proposes, the judge and the tools decide.

The model gets the exception, the facts (sorted JSON), values derived from
them and the run's book's sections for the exception type (agents.prompts,
rendered from the PolicyBook the planner was built with), and
answers with strict structured output, validated here by pydantic. Action
names and arguments are passed on as the model wrote them: an action that
does not exist or an amount over the book reaches the judge, which denies or
holds it. A reply that cannot be read is retried once with the error; a
second bad reply raises PlannerFailure, and the case waits for a supervisor.

With `cassette_dir` and `case_id`, every call goes through vcrpy: replayed
from `<cassette_dir>/<case_id>.yaml` (record mode `none`, matched on method,
URL and body, so a changed prompt never matches an old recording), or
recorded against a live endpoint with `record=True` (record mode `once`). A
call with no recording raises UnrecordedCall (not PlannerFailure, so an eval
case fails instead of passing as "held"); it is never sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import openai
import vcr
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from vcr.errors import CannotOverwriteExistingCassetteException

from agents.planners.base import Plan, PlannerFailure
from agents.prompts import build_messages, prompt_id, response_format, retry_message
from core.facts import Facts
from policies.actions import Proposal
from policies.book import BOOK, PolicyBook

DEFAULT_BASE_URL = "https://api.openai.com/v1"
REPLAY_API_KEY = "replay-no-key"
FILTERED_REQUEST_HEADERS = ("authorization", "openai-organization", "openai-project", "cookie", "api-key")
FILTERED_RESPONSE_HEADERS = ("set-cookie", "openai-organization", "openai-project")


class LLMSettings(BaseSettings):
    """Model and endpoint: `TOWER_LLM_*`, plus the OpenAI client's own `OPENAI_BASE_URL` / `OPENAI_API_KEY`."""

    model_config = SettingsConfigDict(env_prefix="TOWER_LLM_", extra="ignore", populate_by_name=True)

    model: str = "gpt-4o-mini"
    base_url: str = Field(DEFAULT_BASE_URL, validation_alias=AliasChoices("OPENAI_BASE_URL", "TOWER_LLM_BASE_URL"))
    api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("OPENAI_API_KEY", "TOWER_LLM_API_KEY"))
    temperature: float = 0.0
    seed: int = 7
    max_completion_tokens: int = 2000
    timeout_s: float = 60.0
    max_retries: int = 2


class ModelAction(BaseModel):
    """One action as the model wrote it; name and arguments are the judge's to check."""

    model_config = ConfigDict(extra="forbid")
    action: str
    args: dict[str, Any]
    confidence: float = Field(ge=0, le=1)
    rationale: str = ""
    rule_ids: list[str] = []


class ModelMessage(BaseModel):
    """A drafted customer message (a `notify_customer` to the exception's order)."""

    model_config = ConfigDict(extra="forbid")
    topic: str
    eta: str | None = None
    body: str
    confidence: float = Field(ge=0, le=1)
    rationale: str = ""
    rule_ids: list[str] = []


class ModelReply(BaseModel):
    """The model's whole answer (the schema of agents.prompts.response_schema, read leniently on names)."""

    model_config = ConfigDict(extra="forbid")
    claim_reason: str | None = None
    actions: list[ModelAction]
    messages: list[ModelMessage]
    notes: list[str] = []


class Malformed(ValueError):
    """The reply cannot be used as a plan; the message says why, for the retry and the supervisor."""


class UnrecordedCall(RuntimeError):
    """Replay found no recording for a model call; nothing was sent."""


def parse_reply(content: str | None, refusal: str | None = None, finish_reason: str | None = None) -> ModelReply:
    """The reply as a ModelReply, or Malformed with a short reason (no library URLs: it goes into a prompt)."""
    if refusal:
        raise Malformed(f"the model refused: {refusal[:200]}")
    if finish_reason == "length":
        raise Malformed("the reply was cut off at the token limit")
    if not content:
        raise Malformed("the reply was empty")
    try:
        data = json.loads(content)
    except json.JSONDecodeError as err:
        raise Malformed(f"the reply is not JSON ({err.msg} at character {err.pos})") from err
    try:
        return ModelReply.model_validate(data)
    except ValidationError as err:
        parts = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in err.errors()[:3]]
        raise Malformed("the reply does not fit the schema (" + "; ".join(parts) + ")") from err


def proposals_of(reply: ModelReply, facts: Facts) -> list[Proposal]:
    """Proposals for the judge: actions as written, messages addressed to the exception's order."""
    ret = facts.order.return_(facts.exception.return_id)
    reads_claim = facts.exception.type == "return_dispute" and ret is not None and ret.reason is None
    assumed = {"reason": reply.claim_reason} if reads_claim and reply.claim_reason else {}
    out = [Proposal(action=a.action, args=a.args, confidence=a.confidence, rationale=a.rationale,
                    rule_ids=tuple(a.rule_ids), assumed=assumed) for a in reply.actions]
    for m in reply.messages:
        args: dict[str, Any] = {"order_id": facts.order.id, "topic": m.topic, "body": m.body}
        if m.eta is not None:
            args["eta"] = m.eta
        out.append(Proposal(action="notify_customer", args=args, confidence=m.confidence, rationale=m.rationale,
                            rule_ids=tuple(m.rule_ids), assumed=assumed))
    return out


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in FILTERED_RESPONSE_HEADERS:
            del headers[name]
    return response


def cassette_vcr(record: bool) -> vcr.VCR:
    """The one vcrpy configuration of model calls: replay-only unless recording, secrets filtered."""
    return vcr.VCR(
        record_mode="once" if record else "none",
        match_on=("method", "uri", "body"),
        filter_headers=list(FILTERED_REQUEST_HEADERS),
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )


class LLMPlanner:
    """Planner protocol over a chat model; `version` names the model and the prompt (`<model>/p<N>-<hash>`).

    The prompt carries `book` (the run's policy book), so its hash, and so `version`, differs per book.
    """

    name = "llm"

    def __init__(self, settings: LLMSettings | None = None, *, book: PolicyBook = BOOK, cassette: Path | None = None,
                 record: bool = False, http_client: httpx2.Client | None = None) -> None:
        """`http_client` replaces the network (tests, the cassette generator); with it no API key is needed."""
        self.settings = settings or LLMSettings()
        self.book = book
        self.cassette = cassette
        self.record = record
        self.prompt = prompt_id(book)
        self.version = f"{self.settings.model}/{self.prompt}"
        self._http_client = http_client
        self._client: openai.OpenAI | None = None

    @classmethod
    def from_settings(cls, *, cassette_dir: Path | str | None = None, case_id: str | None = None,
                      record: bool = False, http_client: httpx2.Client | None = None, book: PolicyBook = BOOK,
                      **overrides: Any) -> LLMPlanner:
        """Settings from the environment (`overrides` win); a cassette when both `cassette_dir` and `case_id`."""
        unknown = sorted(set(overrides) - set(LLMSettings.model_fields))
        if unknown:
            raise ValueError(f"unknown LLM planner option(s) {unknown}: choose from {sorted(LLMSettings.model_fields)}")
        settings = LLMSettings(**overrides)
        if (cassette_dir is None) != (case_id is None):
            raise ValueError("cassette_dir and case_id go together: both or neither")
        cassette = Path(cassette_dir) / f"{case_id}.yaml" if cassette_dir is not None else None
        if record and cassette is None:
            raise ValueError("record=True needs cassette_dir and case_id")
        return cls(settings, book=book, cassette=cassette, record=record, http_client=http_client)

    @property
    def replaying(self) -> bool:
        return self.cassette is not None and not self.record

    def client(self) -> openai.OpenAI:
        if self._client is None:
            s = self.settings
            key = s.api_key.get_secret_value() if s.api_key is not None else None
            offline = self.replaying or self._http_client is not None  # nothing goes to a real endpoint
            if key is None and not offline:
                raise PlannerFailure("no API key: set OPENAI_API_KEY to call a model (or replay a cassette)")
            self._client = openai.OpenAI(api_key=key or REPLAY_API_KEY, base_url=s.base_url,
                                         timeout=s.timeout_s, max_retries=0 if offline else s.max_retries,
                                         http_client=self._http_client)
        return self._client

    def request(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        """The keyword arguments of chat.completions.create: everything that makes the request body."""
        s = self.settings
        return {"model": s.model, "messages": messages, "temperature": s.temperature, "seed": s.seed,
                "max_completion_tokens": s.max_completion_tokens, "response_format": response_format()}

    def plan(self, facts: Facts) -> Plan:
        messages = build_messages(facts, self.book)
        usage = {"prompt_tokens": 0.0, "completion_tokens": 0.0, "latency_ms": 0.0, "calls": 0.0}
        with self._cassette():
            reply, error = None, None
            for _attempt in range(2):
                content, refusal, finish = self._call(messages, usage)
                try:
                    reply = parse_reply(content, refusal, finish)
                    break
                except Malformed as err:
                    error = str(err)
                    messages = [*messages, {"role": "assistant", "content": content or ""}, retry_message(error)]
        if reply is None:
            raise PlannerFailure(f"the model's reply was malformed twice (last: {error})")
        notes = tuple(reply.notes)
        if error is not None:
            notes = (f"first reply malformed and retried: {error}", *notes)
        if reply.claim_reason:
            notes = (*notes, f"claim read as {reply.claim_reason}")
        return Plan(proposals=tuple(proposals_of(reply, facts)), notes=notes, planner=self.name,
                    version=self.version, usage=usage)

    @contextmanager
    def _cassette(self) -> Iterator[None]:
        if self.cassette is None:
            yield
            return
        if self.record:
            self.cassette.parent.mkdir(parents=True, exist_ok=True)
        with cassette_vcr(self.record).use_cassette(str(self.cassette)):
            yield

    def _call(self, messages: list[dict[str, str]], usage: dict[str, float]) -> tuple[str | None, str | None,
                                                                                      str | None]:
        started = time.perf_counter()
        try:
            completion = self.client().chat.completions.create(**self.request(messages))
        except CannotOverwriteExistingCassetteException as err:
            raise self._unrecorded(err) from err
        except openai.APIConnectionError as err:
            if isinstance(err.__cause__, CannotOverwriteExistingCassetteException):
                raise self._unrecorded(err.__cause__) from err
            raise PlannerFailure(f"the model endpoint could not be reached: {err}") from err
        except openai.APIStatusError as err:
            raise PlannerFailure(f"the model endpoint answered {err.status_code}: {err.message}") from err
        except openai.OpenAIError as err:
            raise PlannerFailure(f"the model call failed: {err}") from err
        finally:
            usage["latency_ms"] += round((time.perf_counter() - started) * 1000, 1)
            usage["calls"] += 1
        if completion.usage is not None:
            usage["prompt_tokens"] += completion.usage.prompt_tokens
            usage["completion_tokens"] += completion.usage.completion_tokens
        if not completion.choices:
            return None, None, None
        choice = completion.choices[0]
        return choice.message.content, choice.message.refusal, choice.finish_reason

    def _unrecorded(self, err: CannotOverwriteExistingCassetteException) -> UnrecordedCall:
        reason = getattr(err, "reason", "no_match")
        why = {"cassette_not_found": "the cassette does not exist",
               "already_played": "its recordings were all played already",
               }.get(reason, "no recording matches this request (did the prompt, the facts or the model change?)")
        return UnrecordedCall(
            f"model call not recorded in {self.cassette}: {why}; it was not sent (prompt {self.prompt}, "
            f"model {self.settings.model}). Regenerate hand-written cassettes with scripts/make_cassettes.py "
            "or record with record=True against a live endpoint.")
