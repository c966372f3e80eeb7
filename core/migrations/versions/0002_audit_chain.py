"""audit chain: every audit entry hashed over its content and its predecessor's hash, one trail per exception

Existing entries are chained in the order they were written (time, then id),
and every existing action record gets an `action.chained` entry carrying the
digest of its state as found, so a migrated store verifies from here on.

Revision ID: 0002_audit_chain
Revises: 0001
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # the submodule autogenerate refers to (sqlmodel.sql.sqltypes.AutoString)
from alembic import op

import core.types
from core.audit import GENESIS, entry_hash, record_digest

revision = '0002_audit_chain'
down_revision = '0001'
branch_labels = None
depends_on = None

MIGRATION_ACTOR = "system:migration"


def upgrade() -> None:
    with op.batch_alter_table('exceptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audit_seq', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('audit_head', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    with op.batch_alter_table('auditentry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    _chain_existing(op.get_bind())
    with op.batch_alter_table('auditentry', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('hash', existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)
        batch_op.drop_index(batch_op.f('ix_auditentry_exception_id'))
        batch_op.create_unique_constraint('uq_auditentry_exception_seq', ['exception_id', 'seq'])


def downgrade() -> None:
    with op.batch_alter_table('auditentry', schema=None) as batch_op:
        batch_op.drop_constraint('uq_auditentry_exception_seq', type_='unique')
        batch_op.create_index(batch_op.f('ix_auditentry_exception_id'), ['exception_id'], unique=False)
        batch_op.drop_column('hash')
        batch_op.drop_column('seq')
    with op.batch_alter_table('exceptions', schema=None) as batch_op:
        batch_op.drop_column('audit_head')
        batch_op.drop_column('audit_seq')


_T = core.types.UTCDateTime
_EXC = sa.table('exceptions', sa.column('id', sa.String), sa.column('audit_seq', sa.Integer),
                sa.column('audit_head', sa.String))
_ENTRY = sa.table('auditentry', sa.column('id', sa.Integer), sa.column('exception_id', sa.String),
                  sa.column('at', _T()), sa.column('actor', sa.String), sa.column('kind', sa.String),
                  sa.column('detail', sa.JSON), sa.column('seq', sa.Integer), sa.column('hash', sa.String))
_RECORD = sa.table('action_record', sa.column('id', sa.Integer), sa.column('exception_id', sa.String),
                   sa.column('idempotency_key', sa.String), sa.column('action', sa.String),
                   sa.column('args', sa.JSON), sa.column('status', sa.String), sa.column('planner', sa.String),
                   sa.column('confidence', sa.Float), sa.column('rationale', sa.String),
                   sa.column('verdict', sa.JSON), sa.column('policy_version', sa.String),
                   sa.column('required_role', sa.String), sa.column('proposed_at', _T()),
                   sa.column('decided_at', _T()), sa.column('decided_by', sa.String),
                   sa.column('applied_at', _T()), sa.column('result', sa.JSON))


def _chain_existing(conn: sa.Connection) -> None:
    """Chain what the store already holds, per exception, with the same hash the running code writes."""
    trails: dict[str, list[Any]] = defaultdict(list)
    for e in conn.execute(sa.select(_ENTRY).order_by(_ENTRY.c.at, _ENTRY.c.id)):
        if e.exception_id is None:  # belongs to no trail: `tower audit verify` reports it
            conn.execute(sa.update(_ENTRY).where(_ENTRY.c.id == e.id).values(seq=0, hash=""))
        else:
            trails[e.exception_id].append(e)
    records: dict[str, list[Any]] = defaultdict(list)
    for r in conn.execute(sa.select(_RECORD).order_by(_RECORD.c.id)):
        records[r.exception_id].append(r)
    for exception_id in sorted(set(trails) | set(records)):
        prev, seq = GENESIS, 0
        for e in trails.get(exception_id, []):
            seq += 1
            detail = e.detail if isinstance(e.detail, dict) else {}
            prev = entry_hash(prev, exception_id, seq, e.at, e.actor, e.kind, detail)
            conn.execute(sa.update(_ENTRY).where(_ENTRY.c.id == e.id).values(seq=seq, hash=prev, detail=detail))
        for r in records.get(exception_id, []):
            seq += 1
            at = max(t for t in (r.proposed_at, r.decided_at, r.applied_at) if isinstance(t, datetime))
            detail = {"key": r.idempotency_key, "action": r.action, "status": r.status, "record": record_digest(r)}
            prev = entry_hash(prev, exception_id, seq, at, MIGRATION_ACTOR, "action.chained", detail)
            conn.execute(sa.insert(_ENTRY).values(exception_id=exception_id, at=at, actor=MIGRATION_ACTOR,
                                                  kind="action.chained", detail=detail, seq=seq, hash=prev))
        conn.execute(sa.update(_EXC).where(_EXC.c.id == exception_id).values(audit_seq=seq, audit_head=prev))
