"""The audit trail cannot be rewritten unseen: each alteration, deletion, insertion, reordering and forged record
is named by `GET /exceptions/{id}` and `tower audit verify`, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from api_helpers import as_
from fastapi.testclient import TestClient
from sqlalchemy import Connection, delete, insert, select, text, update
from typer.testing import CliRunner

from api.cli import app as tower
from api.holds import sweep_expired
from api.runtime import Runtime
from core.audit import entry_hash
from core.clock import VirtualClock
from core.models import ActionRecord, AuditEntry
from core.store import alembic_config

_E, _A = AuditEntry.__table__, ActionRecord.__table__
LEAD = "lia (lead)"


def decided(client: TestClient, held: Callable[..., str]) -> str:
    """A fraud hold whose held message a supervisor approved an hour later: six entries, one action record.

    1 claimed · 2 planned · 3 action.held · (an hour) · 4 decision.approve · 5 action.rejudged · 6 action.applied
    """
    exc_id = held(0.45)
    clock: VirtualClock = client.app.state.runtime.clock  # type: ignore[attr-defined]
    clock.advance(timedelta(hours=1))
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve"}, headers=as_("supervisor"))
    # the verification went out; the order is still on hold, so the exception waits for a release or a cancel
    assert r.status_code == 200 and r.json()["state"] == "awaiting_approval", r.text
    return exc_id


def trail(client: TestClient, exc_id: str) -> dict[str, Any]:
    r = client.get(f"/exceptions/{exc_id}", headers=as_("viewer"))
    assert r.status_code == 200, r.text
    return r.json()["audit_trail"]  # type: ignore[no-any-return]


def entry(conn: Connection, exc_id: str, seq: int) -> Any:
    return conn.execute(select(_E).where(_E.c.exception_id == exc_id, _E.c.seq == seq)).one()


def where(exc_id: str, seq: int) -> Any:
    return (_E.c.exception_id == exc_id) & (_E.c.seq == seq)


def renumber(conn: Connection, exc_id: str, moves: dict[int, int]) -> None:
    """Give entries new places, through negative ones so the unique (exception, seq) index never objects."""
    for old in moves:
        conn.execute(update(_E).where(where(exc_id, old)).values(seq=-old))
    for old, new in moves.items():
        conn.execute(update(_E).where(where(exc_id, -old)).values(seq=new))


# --------------------------------------------------------------------------- the tampering, one function each

def alter_actor(conn: Connection, x: str) -> None:
    conn.execute(update(_E).where(where(x, 4)).values(actor=LEAD))


def alter_detail(conn: Connection, x: str) -> None:
    conn.execute(update(_E).where(where(x, 4)).values(detail={**entry(conn, x, 4).detail, "role": "lead"}))


def alter_and_rehash_one(conn: Connection, x: str) -> None:
    """Change entry 4 and recompute its own hash: entry 5 no longer follows it."""
    e, prev = entry(conn, x, 4), entry(conn, x, 3)
    conn.execute(update(_E).where(where(x, 4)).values(
        actor=LEAD, hash=entry_hash(prev.hash, x, 4, e.at, LEAD, e.kind, e.detail)))


def delete_middle(conn: Connection, x: str) -> None:
    conn.execute(delete(_E).where(where(x, 2)))


def delete_newest(conn: Connection, x: str) -> None:
    conn.execute(delete(_E).where(where(x, 6)))


def delete_and_close_the_gap(conn: Connection, x: str) -> None:
    conn.execute(delete(_E).where(where(x, 2)))
    renumber(conn, x, {3: 2, 4: 3, 5: 4, 6: 5})


def insert_at_the_end(conn: Connection, x: str) -> None:
    """A well-formed seventh entry, its hash computed as the code would: the exception's head says six."""
    last = entry(conn, x, 6)
    detail = {"key": "forged", "status": "approved", "role": "lead"}
    conn.execute(insert(_E).values(exception_id=x, seq=7, at=last.at, actor=LEAD, kind="decision.approve",
                                   detail=detail,
                                   hash=entry_hash(last.hash, x, 7, last.at, LEAD, "decision.approve", detail)))


def insert_in_the_middle(conn: Connection, x: str) -> None:
    """Make room at 4 and insert a well-hashed entry there: the one after it no longer follows."""
    renumber(conn, x, {s: s + 1 for s in (6, 5, 4)})
    prev = entry(conn, x, 3)
    detail = {"note": "approved by the lead on the phone"}
    conn.execute(insert(_E).values(exception_id=x, seq=4, at=prev.at, actor=LEAD, kind="decision.approve",
                                   detail=detail,
                                   hash=entry_hash(prev.hash, x, 4, prev.at, LEAD, "decision.approve", detail)))


def reorder_places(conn: Connection, x: str) -> None:
    renumber(conn, x, {4: 5, 5: 4})


def reorder_times(conn: Connection, x: str) -> None:
    a, b = entry(conn, x, 2), entry(conn, x, 4)
    conn.execute(update(_E).where(where(x, 2)).values(at=b.at))
    conn.execute(update(_E).where(where(x, 4)).values(at=a.at))


def forge_decided_by(conn: Connection, x: str) -> None:
    conn.execute(update(_A).where(_A.c.exception_id == x).values(decided_by=LEAD))


def forge_decided_role(conn: Connection, x: str) -> None:
    verdict = conn.execute(select(_A.c.verdict).where(_A.c.exception_id == x)).scalar_one()
    conn.execute(update(_A).where(_A.c.exception_id == x).values(verdict={**verdict, "decided_role": "lead"}))


def insert_a_record(conn: Connection, x: str) -> None:
    rec = {k: v for k, v in conn.execute(select(_A).where(_A.c.exception_id == x)).one()._asdict().items() if k != "id"}
    conn.execute(insert(_A).values({**rec, "idempotency_key": f"{x}:refund:forged", "action": "refund",
                                    "args": {"amount_cents": 50_000}, "status": "applied", "decided_by": LEAD}))


def delete_the_record(conn: Connection, x: str) -> None:
    conn.execute(delete(_A).where(_A.c.exception_id == x))


@dataclass(frozen=True)
class Tamper:
    do: Callable[[Connection, str], None]
    seq: int | None
    says: str


TAMPERS = [
    Tamper(alter_actor, 4, "entry #4 (id {id4}, decision.approve by lia (lead)) does not verify"),
    Tamper(alter_detail, 4, "entry #4 (id {id4}, decision.approve by sam (supervisor)) does not verify"),
    Tamper(alter_and_rehash_one, 5, "entry #5 (id {id5}, action.rejudged by sam (supervisor)) does not verify"),
    Tamper(delete_middle, 3, "follows #1: entry #2 was deleted"),
    Tamper(delete_newest, None, "entry #6 is missing"),
    Tamper(delete_and_close_the_gap, 2, "entry #2 (id {id3}, action.held by test-worker) does not verify"),
    Tamper(insert_at_the_end, 7, "is past the trail's head #6: it was added outside the audit"),
    Tamper(insert_in_the_middle, 5, "entry #5 (id {id4}, decision.approve by sam (supervisor)) does not verify"),
    Tamper(reorder_places, 4, "entry #4 (id {id5}, action.rejudged by sam (supervisor)) does not verify"),
    Tamper(reorder_times, 2, "entry #2 (id {id2}, planned by test-worker) does not verify"),
    Tamper(forge_decided_by, 6, "action record {key} is not as entry #6 (id {id6}, action.applied by "
                                "sam (supervisor)) left it (now applied, decided by lia (lead))"),
    Tamper(forge_decided_role, 6, "action record {key} is not as entry #6"),
    Tamper(insert_a_record, None, "action record {x}:refund:forged has no audited state"),
    Tamper(delete_the_record, 6, "audits action record {key}, which is gone"),
]


def test_an_untouched_trail_verifies_entry_by_entry_with_its_record(client: TestClient, runtime: Runtime,
                                                                   held: Callable[..., str]) -> None:
    exc_id = decided(client, held)
    d = client.get(f"/exceptions/{exc_id}", headers=as_("viewer")).json()
    assert d["audit_trail"] == {"verified": True, "entries": 6, "records": 1, "problem": None, "entry_id": None,
                                "seq": None}
    assert [(a["seq"], a["kind"]) for a in d["audit"]] == [
        (1, "claimed"), (2, "planned"), (3, "action.held"), (4, "decision.approve"), (5, "action.rejudged"),
        (6, "action.applied")]
    assert len({a["hash"] for a in d["audit"]}) == 6


@pytest.mark.parametrize("tamper", TAMPERS, ids=[t.do.__name__ for t in TAMPERS])
def test_a_rewritten_trail_is_named_where_it_breaks(client: TestClient, runtime: Runtime, held: Callable[..., str],
                                                    db_url: str, tamper: Tamper) -> None:
    exc_id = decided(client, held)
    other = decided(client, held)  # a second trail, left alone: it still verifies
    with runtime.engine.begin() as conn:
        ids = {f"id{e.seq}": e.id for e in conn.execute(select(_E.c.seq, _E.c.id).where(_E.c.exception_id == exc_id))}
        key = conn.execute(select(_A.c.idempotency_key).where(_A.c.exception_id == exc_id)).scalar_one()
        tamper.do(conn, exc_id)
    says = tamper.says.format(key=key, x=exc_id, **ids)

    got = trail(client, exc_id)
    assert got["verified"] is False
    assert says in got["problem"], got["problem"]
    assert got["seq"] == tamper.seq
    assert trail(client, other)["verified"] is True

    out = CliRunner().invoke(tower, ["audit", "verify", "--db", db_url])
    assert out.exit_code == 1, out.output
    first, summary = out.output.splitlines()
    assert first.startswith(f"audit: {exc_id}: ") and says in first
    assert summary.startswith("audit: 1 of 2 trails do not verify")


def test_every_writer_chains_decisions_edits_rejections_expiries_and_effects(
        client: TestClient, runtime: Runtime, clock: VirtualClock, held: Callable[..., str], db_url: str) -> None:
    approved, edited, rejected, expired = held(0.45), held(0.45), held(0.45), held(0.45)
    laptop = held(0.8, sku="LAPTOP-14")  # F3: cancel + a lead's refund + message
    [key] = [a["key"] for a in client.get(f"/exceptions/{edited}", headers=as_("viewer")).json()["actions"]]
    body = "Hello Dana, please confirm the new delivery address for order O-000002 by replying to this email."
    decisions = [(approved, {"decision": "approve"}, "supervisor"),
                 (edited, {"decision": "edit", "actions": [{"key": key, "args": {"body": body}}]}, "supervisor"),
                 (rejected, {"decision": "reject", "note": "not needed"}, "supervisor"),
                 (laptop, {"decision": "approve"}, "lead")]
    for exc_id, decision, role in decisions:
        r = client.post(f"/exceptions/{exc_id}/decision", json=decision, headers=as_(role))
        assert r.status_code == 200, r.text
    clock.advance(timedelta(hours=24))
    assert sweep_expired(runtime.engine, runtime.settings, now=clock.now(), book=runtime.book) == [expired]

    kinds = {a["kind"] for x in (approved, edited, rejected, expired, laptop)
             for a in client.get(f"/exceptions/{x}", headers=as_("viewer")).json()["audit"]}
    assert {"decision.approve", "decision.edit", "decision.reject", "action.expired", "escalated",
            "action.applied"} <= kinds
    for exc_id in (approved, edited, rejected, expired, laptop):
        assert trail(client, exc_id)["verified"] is True, exc_id
    out = CliRunner().invoke(tower, ["audit", "verify", "--db", db_url])
    assert out.exit_code == 0 and "in 5 trails (7 action records as audited)" in out.output, out.output


def test_tower_audit_verify_counts_what_it_verified(client: TestClient, held: Callable[..., str],
                                                    db_url: str) -> None:
    decided(client, held)
    held(0.45)  # waiting: claimed, planned, action.held
    out = CliRunner().invoke(tower, ["audit", "verify", "--db", db_url])
    assert out.exit_code == 0, out.output
    assert out.output == "audit: 9 entries verified in 2 trails (2 action records as audited)\n"


def test_an_entry_of_no_known_exception_is_reported(client: TestClient, runtime: Runtime, held: Callable[..., str],
                                                    db_url: str) -> None:
    exc_id = decided(client, held)
    with runtime.engine.begin() as conn:
        conn.execute(text("UPDATE auditentry SET exception_id = 'EX-999999' WHERE seq = 6"))
    out = CliRunner().invoke(tower, ["audit", "verify", "--db", db_url])
    assert out.exit_code == 1
    first, summary = out.output.splitlines()
    assert first.startswith("audit: EX-999999: entry #6 (id ")
    assert "of exception EX-999999, which does not exist" in first
    assert summary.startswith("audit: 2 of 2 trails do not verify")  # that one, and the trail it was taken from
    assert trail(client, exc_id)["problem"].startswith("entry #6 is missing")


def test_a_store_from_before_the_chain_is_chained_by_its_migration(client: TestClient, runtime: Runtime,
                                                                   held: Callable[..., str], db_url: str) -> None:
    exc_id = decided(client, held)
    waiting = held(0.45)
    cfg = alembic_config(runtime.engine)
    command.downgrade(cfg, "0001")  # the store as it was: no seq, no hash, no heads
    command.upgrade(cfg, "head")
    out = CliRunner().invoke(tower, ["audit", "verify", "--db", db_url])
    assert out.exit_code == 0, out.output
    assert out.output == "audit: 11 entries verified in 2 trails (2 action records as audited)\n"
    d = client.get(f"/exceptions/{exc_id}", headers=as_("viewer")).json()
    assert [a["kind"] for a in d["audit"]][-2:] == ["action.applied", "action.chained"]
    assert d["audit"][-1]["actor"] == "system:migration"
    with runtime.engine.begin() as conn:  # and from here on, the chain catches what it catches
        conn.execute(update(_A).where(_A.c.exception_id == waiting).values(decided_by=LEAD))
    assert "is not as entry #4" in trail(client, waiting)["problem"]


def test_verify_reads_a_store_it_cannot_open_as_exit_2(tmp_path: Any) -> None:
    out = CliRunner().invoke(tower, ["audit", "verify", "--db", f"sqlite:///{tmp_path / 'nope.db'}"])
    assert out.exit_code == 2
    assert "cannot read the audit trails" in out.output and "no such file" in out.output
    assert not (tmp_path / "nope.db").exists()
