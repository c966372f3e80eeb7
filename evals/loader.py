"""Load a suite: find the case files, parse and check every one before any runs.

A suite either loads whole or not at all. Errors are collected across all
files, each naming the file and the field, so one run of the loader shows
everything a suite's author has to fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.world import reference_errors
from evals.case import (
    EVENT_TYPES,
    LIVE_STATUSES,
    THEN_STATUSES,
    CarrierUpdateEvent,
    Case,
    DelayIn,
    RescoreEvent,
    ReturnDisputeIn,
    ReturnEvidenceEvent,
    StockoutIn,
    StockReceivedEvent,
)
from policies.actions import ARGS, parse_args
from policies.book import BOOK

SKIPPED_FOLDER = "cassettes"
ACTIONS: frozenset[str] = frozenset(a for c in BOOK.autonomy.classes for a in c.actions)


class SuiteError(Exception):
    """A suite that cannot be loaded; `messages` holds every problem found, file and field first."""

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


@dataclass(frozen=True)
class LoadedCase:
    """A checked case and the file it came from (its name in messages, its folder for cassettes)."""

    path: Path
    case: Case

    @property
    def name(self) -> str:
        return self.path.as_posix()


@dataclass(frozen=True)
class Suite:
    cases: tuple[LoadedCase, ...]


def load_suite(paths: Iterable[Path | str]) -> Suite:
    """Every case under `paths`, sorted by file path; raises SuiteError naming every problem."""
    errors: list[str] = []
    files = find_case_files([Path(p) for p in paths], errors)
    loaded: list[LoadedCase] = []
    for path in files:
        case = _load_file(path, errors)
        if case is not None:
            loaded.append(LoadedCase(path=path, case=case))
    seen: dict[str, Path] = {}
    for item in loaded:
        first = seen.setdefault(item.case.id, item.path)
        if first != item.path:
            errors.append(f"{item.name}: id: case id {item.case.id!r} is also used by {first.as_posix()}")
    if not files and not errors:
        errors.append(f"no case found in {', '.join(Path(p).as_posix() for p in paths) or 'no path'}")
    if errors:
        raise SuiteError(errors)
    return Suite(cases=tuple(loaded))


def find_case_files(paths: Sequence[Path], errors: list[str]) -> list[Path]:
    """Files given, and `*.json` under folders given (skipping `cassettes/`), once each, sorted."""
    found: dict[Path, Path] = {}
    for root in paths:
        if root.is_file():
            found.setdefault(root.resolve(), root)
        elif root.is_dir():
            for path in sorted(root.rglob("*.json")):
                if path.is_file() and SKIPPED_FOLDER not in path.relative_to(root).parts[:-1]:
                    found.setdefault(path.resolve(), path)
        else:
            errors.append(f"{root.as_posix()}: no such file or folder")
    return sorted(found.values(), key=lambda p: p.as_posix())


def _load_file(path: Path, errors: list[str]) -> Case | None:
    name = path.as_posix()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        errors.append(f"{name}: line {e.lineno} column {e.colno}: invalid JSON: {e.msg}")
        return None
    except (OSError, UnicodeDecodeError) as e:
        errors.append(f"{name}: cannot be read: {e}")
        return None
    try:
        case = Case.model_validate(data)
    except ValidationError as e:
        errors.extend(f"{name}: {field_path(err['loc'], err['type'])}: {_message(err)}" for err in e.errors())
        return None
    problems = case_reference_errors(case)
    errors.extend(f"{name}: {at}: {message}" for at, message in problems)
    return None if problems else case


def case_reference_errors(case: Case) -> list[tuple[str, str]]:
    """Ids of the world, of the exception and of expected action names that do not resolve."""
    errors = reference_errors(case.world)
    exc = case.exception
    order = next((o for o in case.world.orders if o.id == exc.order_id), None)
    if order is None:
        errors.append(("exception.order_id", f"order {exc.order_id!r} does not exist"))
    else:
        if isinstance(exc, DelayIn):
            errors += _belongs("shipment", exc.shipment_id, "exception.shipment_id", order.id,
                               {s.id: o.id for o in case.world.orders for s in o.shipments})
        if isinstance(exc, ReturnDisputeIn):
            errors += _belongs("return", exc.return_id, "exception.return_id", order.id,
                               {r.id: o.id for o in case.world.orders for r in o.returns})
        if isinstance(exc, StockoutIn) and exc.sku not in {line.sku for line in order.lines}:
            errors.append(("exception.sku", f"sku {exc.sku!r} is not a line of order {order.id!r}"))
    if isinstance(exc, StockoutIn) and exc.location not in {x.id for x in case.world.locations}:
        errors.append(("exception.location", f"location {exc.location!r} does not exist"))
    pinnable = pinnable_statuses(case)
    for i, expected in enumerate(case.expect.actions):
        if expected.action not in ACTIONS:
            errors.append((f"expect.actions[{i}].action", _not_an_action(expected.action)))
        if expected.status is not None and expected.status not in pinnable:
            errors.append((f"expect.actions[{i}].status",
                           f"{expected.status!r} cannot be pinned in this case (it may pin {', '.join(pinnable)}; "
                           "`denied` needs `proposals`)"))
    for i, name in enumerate(case.expect.forbidden):
        if name not in ACTIONS:
            errors.append((f"expect.forbidden[{i}]", _not_an_action(name)))
    errors += then_errors(case)
    return errors


def pinnable_statuses(case: Case) -> tuple[str, ...]:
    """The statuses an expected action of this case may pin: applied or held; denied with `proposals`;
    denied, rejected or withdrawn with `then`."""
    if case.then is not None:
        return THEN_STATUSES
    return (*LIVE_STATUSES, "denied") if case.proposals is not None else LIVE_STATUSES


MAX_ADDED = 20
_REFS = ("order_id", "shipment_id", "return_id", "customer_id")


def then_errors(case: Case) -> list[tuple[str, str]]:
    """`then` checked strictly (cases.md): time order, references that resolve, decisions that can be read."""
    if case.then is None:
        return []
    world = case.world
    ids = {"order_id": {o.id for o in world.orders},
           "shipment_id": {x.id for o in world.orders for x in o.shipments},
           "return_id": {x.id for o in world.orders for x in o.returns},
           "customer_id": {c.id for c in world.customers},
           "location": {x.id for x in world.locations},
           "sku": {p.sku for p in world.products}}
    errors: list[tuple[str, str]] = []
    previous = case.now
    for i, step in enumerate(case.then):
        at = f"then[{i}]"
        if step.at < case.now:
            errors.append((f"{at}.at", f"{step.at.isoformat()} is before the case's now ({case.now.isoformat()})"))
        elif step.at < previous:
            errors.append((f"{at}.at", f"{step.at.isoformat()} is before the step above it "
                                       f"({previous.isoformat()}): steps run in time order"))
        previous = max(previous, step.at)
        if step.event is not None:
            ev = step.event
            refs: list[tuple[str, str]] = []
            if isinstance(ev, CarrierUpdateEvent):
                refs = [("shipment_id", ev.shipment_id)]
            elif isinstance(ev, RescoreEvent):
                refs = [("order_id", ev.order_id)]
            elif isinstance(ev, StockReceivedEvent):
                refs = [("location", ev.location), ("sku", ev.sku)]
            elif isinstance(ev, ReturnEvidenceEvent):
                refs = [("return_id", ev.return_id)]
            errors += [(f"{at}.event.{name}", f"{name.removesuffix('_id')} {value!r} does not exist")
                       for name, value in refs if value not in ids[name]]
        if step.decision is not None:
            errors += _decision_errors(f"{at}.decision", step.decision, ids)
    return errors


def _decision_errors(at: str, d: Any, ids: dict[str, set[str]]) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    if d.actions is None:
        if d.decision in ("edit", "add"):
            errors.append((f"{at}.actions", f"required for {d.decision}: name the actions"))
        return errors
    if not d.actions:
        errors.append((f"{at}.actions", "name at least one action, or leave `actions` out for every held action"
                       if d.decision in ("approve", "reject") else "name at least one action"))
    if d.decision == "add" and len(d.actions) > MAX_ADDED:
        errors.append((f"{at}.actions", f"at most {MAX_ADDED} actions may be added at once"))
    for j, entry in enumerate(d.actions):
        here = f"{at}.actions[{j}]"
        if entry.action not in ARGS:
            errors.append((f"{here}.action", _not_an_action(entry.action)))
            continue
        known = set(ARGS[entry.action].model_fields)
        errors += [(f"{here}.{name}", f"unknown field: {entry.action} has no argument {name!r} "
                                      f"(it has {', '.join(sorted(known))})")
                   for name in entry.fields if name not in known]
        if d.decision == "edit":
            if not entry.set:
                errors.append((f"{here}.set", "an edit gives the new values under `set`"))
            else:
                errors += [(f"{here}.set.{name}", f"unknown field: {entry.action} has no argument {name!r}")
                           for name in entry.set if name not in known]
        elif entry.set is not None:
            errors.append((f"{here}.set", f"only an edit has `set`, not {d.decision}"))
        if d.decision == "add" and not any(e[0].startswith(here) for e in errors):
            try:
                parse_args(entry.action, entry.fields, strict=True)
            except ValueError as err:
                errors.append((here, str(err)))
        errors += [(f"{here}.{name}", f"{name.removesuffix('_id')} {value!r} does not exist")
                   for name, value in entry.fields.items() if name in _REFS and value not in ids[name]]
    return errors


def _belongs(what: str, ident: str, at: str, order_id: str, owner: dict[str, str]) -> list[tuple[str, str]]:
    if ident not in owner:
        return [(at, f"{what} {ident!r} does not exist")]
    if owner[ident] != order_id:
        return [(at, f"{what} {ident!r} belongs to order {owner[ident]!r}, not {order_id!r}")]
    return []


def _not_an_action(name: str) -> str:
    return f"{name!r} is not an action of the policy book (one of {', '.join(sorted(ACTIONS))})"


def field_path(loc: tuple[int | str, ...], kind: str) -> str:
    """pydantic's location as a field path: `world.orders[0].id`, without union tags."""
    parts = list(loc)
    if len(parts) > 1 and parts[0] == "exception" and isinstance(parts[1], str) \
            and parts[1] in ("delay", "stockout", "fraud_hold", "return_dispute"):
        del parts[1]
    for k in range(len(parts) - 1):  # then[i].event.<type>.field: the union tag is no field of the file
        if parts[k] == "event" and parts[k + 1] in EVENT_TYPES:
            del parts[k + 1]
            break
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        parts.append("type")
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(the file)"


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown key (the case format does not name it)"
    if kind == "union_tag_not_found":
        if "event" in err["loc"]:
            return f"required field is missing (one of {', '.join(EVENT_TYPES)})"
        return "required field is missing (one of delay, stockout, fraud_hold, return_dispute)"
    if kind == "union_tag_invalid" and "event" in err["loc"]:
        return f"unknown event type (one of {', '.join(EVENT_TYPES)})"
    if kind == "model_type" and not err["loc"]:
        return "a case must be a JSON object"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return str(err["msg"])
