"""The audit trail as a hash chain per exception: written in one place (`AuditLog`), checked by `check_trail`.

Each entry belongs to an exception and carries `seq`, its place in that
exception's trail (1, 2, …), and `hash` = sha256 over the previous entry's
hash and its own canonical content (exception, seq, instant, actor, kind,
detail). The exception row keeps the trail's head (`audit_seq`, `audit_head`),
so deleting the newest entries is caught as well as altering, deleting,
inserting or reordering any other.

Why one chain per exception and not one global chain: an exception is the unit
every writer works on (a worker's graph run, a supervisor's decision, the
expiry sweep all lock its row already), so appending needs only that row's
lock, and writers on different exceptions never wait for each other; a global
chain would put every audited transaction of every worker and the API behind
one hot row held until commit. A trail is also what a reader checks:
`GET /exceptions/{id}` verifies one exception's entries without reading the rest.
The price: a whole trail deleted together with its exception row is not caught
by the chain (exception ids come from a counter, so a gap shows it elsewhere).

Concurrency: `AuditLog.write` runs, in the writer's transaction, one UPDATE that
reserves the seqs and returns the head (`... SET audit_seq = audit_seq + n
RETURNING audit_seq, audit_head`). It takes the exception's row lock, so a
second writer waits there and then reads the first one's committed head: two
writers never fork a trail. The unique index on (exception_id, seq) is the backstop.

Action records: an entry about an action record (its detail has the record's
`key`) carries `record`, a digest of the record's state as the transaction
leaves it (read back just before the entries are written, so it is the state
that commits). `check_trail` compares every record with the last digest its
trail holds: a record changed outside the audit (a forged `decided_by`, an
edited amount, a status flipped to applied) no longer matches. The digest covers
every column but the id, the deadline (`expires_at`, stamped by the expiry
sweep) and `interrupt_id`.

The chain has no secret: it shows edits by anyone who does not recompute every
hash after theirs. Hashing is one sha256 per entry (and one per audited record
state); writing costs two statements per transaction, not per entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlmodel import Session

from core.models import ActionRecord, AuditEntry, OrderException
from core.sqlfast import Statements

GENESIS = "0" * 64
"""The `previous hash` of a trail's first entry."""

RECORD_FIELDS = ("exception_id", "idempotency_key", "action", "args", "status", "planner", "confidence",
                 "rationale", "verdict", "policy_version", "required_role", "proposed_at", "decided_at",
                 "decided_by", "applied_at", "result")
"""What a record digest covers. Fixed here, not taken from the table: a new column must not change old digests."""

_X, _A, _E = OrderException.__table__, ActionRecord.__table__, AuditEntry.__table__
_RESERVE = (update(_X).where(_X.c.id == bindparam("xid")).values(audit_seq=_X.c.audit_seq + bindparam("n"))
            .returning(_X.c.audit_seq, _X.c.audit_head))
_SET_HEAD = update(_X).where(_X.c.id == bindparam("xid")).values(audit_head=bindparam("head"))
_DB = Statements({
    "reserve": _RESERVE,
    "head": _SET_HEAD,
    "states": select(*(_A.c[f] for f in RECORD_FIELDS)).where(_A.c.exception_id == bindparam("xid")),
    "insert": insert(_E),
})
"""Run on the driver cursor (core.sqlfast): audit writes sit on every graph step's commit."""


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default).encode()


def iso(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: the audit records UTC instants only")
    return at.astimezone(UTC).isoformat()


def entry_hash(prev: str, exception_id: str, seq: int, at: datetime, actor: str, kind: str,
               detail: dict[str, Any]) -> str:
    """sha256 over the previous hash and the entry's content, in one canonical JSON form."""
    return hashlib.sha256(_canonical([prev, exception_id, seq, iso(at), actor, kind, detail])).hexdigest()


class RecordState(Protocol):
    """What a record digest reads: an `ActionRecord`, or a row of `RECORD_FIELDS`."""

    idempotency_key: str


def record_digest(record: RecordState) -> str:
    return hashlib.sha256(_canonical([getattr(record, f) for f in RECORD_FIELDS])).hexdigest()


class AuditLog:
    """The audit entries of one transaction, chained and written together just before it commits.

    The one way the code writes audit entries. `write` locks each exception's row
    (see the module docstring), so call it last, right before the commit. It runs
    on the driver cursor (core.sqlfast) and, for the worker's crash-test hook
    (api.worker.install_test_hook), leaves the kinds it wrote in the session's
    `info[AUDITED_KINDS]`.
    """

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, at: datetime, exception_id: str, actor: str, kind: str, detail: dict[str, Any]) -> None:
        """One entry; a detail with a `key` is about that action record, and gets its state's digest."""
        self.rows.append({"at": at, "exception_id": exception_id, "actor": actor, "kind": kind, "detail": detail})

    def write(self, session: Session) -> None:
        rows, self.rows = self.rows, []
        if not rows:
            return
        session.flush()  # the statements below bypass the ORM: let them see its pending changes
        conn = session.connection()
        by_exception: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_exception.setdefault(r["exception_id"], []).append(r)
        for exception_id in sorted(by_exception):  # one lock order for every writer
            _chain(conn, exception_id, by_exception[exception_id])
        _DB.executemany(conn, "insert", rows)
        session.info.setdefault(AUDITED_KINDS, set()).update(r["kind"] for r in rows)


AUDITED_KINDS = "audited_kinds"
"""Key of `Session.info`: the kinds of the entries written in the session's transaction."""


def _chain(conn: Connection, exception_id: str, rows: list[dict[str, Any]]) -> None:
    """Reserve the rows' places in the trail (taking the exception's row lock), stamp and hash them, move the head."""
    head = _DB.first(conn, "reserve", {"xid": exception_id, "n": len(rows)})
    if head is None:
        raise LookupError(f"audit entry for exception {exception_id!r}, which does not exist")
    _stamp_records(conn, exception_id, rows)
    seq, prev = head.audit_seq - len(rows), head.audit_head or GENESIS
    for r in rows:
        seq += 1
        prev = entry_hash(prev, exception_id, seq, r["at"], r["actor"], r["kind"], r["detail"])
        r["seq"], r["hash"] = seq, prev
    _DB.execute(conn, "head", {"xid": exception_id, "head": prev})


def _stamp_records(conn: Connection, exception_id: str, rows: list[dict[str, Any]]) -> None:
    """Give the last entry about each record the digest of the record's state as this transaction leaves it."""
    last: dict[str, int] = {}
    for i, r in enumerate(rows):
        key = r["detail"].get("key")
        if isinstance(key, str):
            last[key] = i
    if not last:
        return
    states = {s.idempotency_key: record_digest(s) for s in _DB.all(conn, "states", {"xid": exception_id})}
    for key, i in last.items():
        if key in states:
            rows[i]["detail"] = {**rows[i]["detail"], "record": states[key]}


# --------------------------------------------------------------------------- verification


class ChainedEntry(Protocol):
    id: int | None
    seq: int | None
    at: datetime
    actor: str
    kind: str
    detail: dict[str, Any]
    hash: str | None


@dataclass(frozen=True, slots=True)
class TrailCheck:
    """One exception's trail: how many entries and records verified, or the first that does not."""

    exception_id: str
    entries: int
    records: int
    problem: str | None = None
    entry_id: int | None = None
    seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _name(e: ChainedEntry) -> str:
    return f"entry #{e.seq} (id {e.id}, {e.kind} by {e.actor})"


def check_trail(exception_id: str, head_seq: int, head_hash: str | None, entries: Iterable[ChainedEntry],
                records: Iterable[RecordState]) -> TrailCheck:
    """Walk a trail (entries in seq order) and its exception's action records; name the first that does not verify."""
    prev, n = GENESIS, 0
    audited: dict[str, tuple[ChainedEntry, str]] = {}

    def bad(problem: str, e: ChainedEntry | None = None) -> TrailCheck:
        return TrailCheck(exception_id, n, 0, problem, e.id if e else None, e.seq if e else None)

    for e in entries:
        if e.seq != n + 1:
            if e.seq is None or e.seq <= n:
                return bad(f"{_name(e)} repeats a place in the trail: it was inserted", e)
            return bad(f"{_name(e)} follows #{n}: entry #{n + 1} was deleted", e)
        if e.seq > head_seq:
            return bad(f"{_name(e)} is past the trail's head #{head_seq}: it was added outside the audit", e)
        if not isinstance(e.detail, dict) or e.hash != entry_hash(prev, exception_id, e.seq, e.at, e.actor, e.kind,
                                                                 e.detail):
            return bad(f"{_name(e)} does not verify: its content or its place in the trail was changed", e)
        prev, n = e.hash, n + 1
        key, digest = e.detail.get("key"), e.detail.get("record")
        if isinstance(key, str) and isinstance(digest, str):
            audited[key] = (e, digest)
    if n < head_seq:
        return bad(f"entry #{n + 1} is missing: the trail ends at #{n} but its head is #{head_seq} "
                   f"(the newest {head_seq - n} entries were deleted)")
    if prev != (head_hash or GENESIS):
        return bad(f"the trail's newest entry #{n} is not the head its exception records: the trail was replaced")
    checked = 0
    for rec in records:
        got = audited.pop(rec.idempotency_key, None)
        if got is None:
            return bad(f"action record {rec.idempotency_key} has no audited state: it was written outside the audit")
        entry, digest = got
        if record_digest(rec) != digest:
            return bad(f"action record {rec.idempotency_key} is not as {_name(entry)} left it (now "
                       f"{getattr(rec, 'status', '?')}, decided by {getattr(rec, 'decided_by', None)}): "
                       "it was changed outside the audit", entry)
        checked += 1
    if audited:
        key, (entry, _) = min(audited.items(), key=lambda kv: kv[1][0].seq or 0)
        return bad(f"{_name(entry)} audits action record {key}, which is gone", entry)
    return TrailCheck(exception_id, n, checked)


@dataclass
class StoreCheck:
    """Every trail of a store: counts, and the trails that do not verify (first first)."""

    trails: int = 0
    entries: int = 0
    records: int = 0
    failures: list[TrailCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


_ENTRY_COLUMNS = (_E.c.id, _E.c.exception_id, _E.c.seq, _E.c.at, _E.c.actor, _E.c.kind, _E.c.detail, _E.c.hash)


def verify_exception(session: Session, exception_id: str) -> TrailCheck | None:
    """One exception's trail, read and checked; None if there is no such exception."""
    head = session.execute(select(_X.c.audit_seq, _X.c.audit_head).where(_X.c.id == exception_id)).first()
    if head is None:
        return None
    entries = session.execute(select(*_ENTRY_COLUMNS).where(_E.c.exception_id == exception_id)
                              .order_by(_E.c.seq, _E.c.id)).all()
    records = session.execute(select(*(_A.c[f] for f in RECORD_FIELDS)).where(_A.c.exception_id == exception_id)
                              .order_by(_A.c.id)).all()
    return check_trail(exception_id, head[0], head[1], entries, records)


def verify_store(engine: Engine) -> StoreCheck:
    """Walk every trail in exception-id order; entries that belong to no exception fail too."""
    out = StoreCheck()
    with Session(engine) as s:
        heads = s.execute(select(_X.c.id, _X.c.audit_seq, _X.c.audit_head).order_by(_X.c.id)).all()
        entries = _grouped(s.execute(select(*_ENTRY_COLUMNS).order_by(_E.c.exception_id, _E.c.seq, _E.c.id)))
        records = _grouped(s.execute(select(*(_A.c[f] for f in RECORD_FIELDS)).order_by(_A.c.exception_id,
                                                                                           _A.c.id)))
    known = {h[0] for h in heads}
    for exception_id, trail in sorted(((k, v) for k, v in entries.items() if k not in known), key=_orphan_order):
        e, out.trails = trail[0], out.trails + 1
        where = f"of exception {exception_id}, which does not exist" if exception_id else "of no exception"
        out.failures.append(TrailCheck(exception_id or "-", 0, 0, f"{_name(e)} is {where}: it was added outside "
                                                                  "the audit", e.id, e.seq))
    for exception_id, head_seq, head_hash in heads:
        check = check_trail(exception_id, head_seq, head_hash, entries.get(exception_id, []),
                            records.get(exception_id, []))
        out.trails += 1
        out.entries += check.entries
        out.records += check.records
        if not check.ok:
            out.failures.append(check)
    return out


def _orphan_order(kv: tuple[str | None, Sequence[Any]]) -> str:
    return kv[0] or ""


def _grouped(rows: Iterable[Any]) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = {}
    for r in rows:
        out.setdefault(r.exception_id, []).append(r)
    return out
