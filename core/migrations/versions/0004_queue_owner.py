"""approvals queue: a supervisor's "mine" (owner), and each waiting exception's held actions summed on its row

The owner is a person, apart from `claimed_by` (a worker's lease).

The queue ranks 10,000 waiting exceptions by the money their held actions
would pay, their first deadline and whether a lead must decide. Aggregating
the held actions' JSON on every page read costs O(all held actions); instead
the store keeps the sums on the exception's row (`queue_*`) with triggers on
`action_record`, so every writer (tools, decisions, expiry sweeps, re-plans)
keeps them true without knowing about the queue, and a page reads one table.

Revision ID: 0004_queue_owner
Revises: 0003_outbox_cursor
Create Date: 2026-12-02 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # the submodule autogenerate refers to (sqlmodel.sql.sqltypes.AutoString)
from alembic import op

import core.types

revision = '0004_queue_owner'
down_revision = '0003_outbox_cursor'
branch_labels = None
depends_on = None

_HELD = "FROM action_record a WHERE a.exception_id = {x} AND a.status = 'held'"
_SQLITE_REFRESH = """UPDATE exceptions SET
    queue_held = (SELECT count(*) {held}),
    queue_cents = (SELECT coalesce(sum(CAST(json_extract(a.args, '$.amount_cents') AS INTEGER)), 0) {held}),
    queue_deadline = (SELECT min(a.expires_at) {held}),
    queue_lead = (SELECT coalesce(max(CASE WHEN a.required_role = 'lead' THEN 1 ELSE 0 END), 0) {held}),
    queue_rules = (SELECT coalesce(group_concat(json_extract(a.verdict, '$.rule_ids'), ','), '') {held})
  WHERE id = {x};"""
_PG_FUNCTIONS = """
CREATE OR REPLACE FUNCTION queue_refresh(xid varchar) RETURNS void LANGUAGE sql AS $$
  UPDATE exceptions SET (queue_held, queue_cents, queue_deadline, queue_lead, queue_rules) = (
    SELECT count(*),
           coalesce(sum(CASE WHEN json_typeof(a.args -> 'amount_cents') = 'number'
                             THEN (a.args ->> 'amount_cents')::numeric::bigint END), 0),
           min(a.expires_at),
           coalesce(max(CASE WHEN a.required_role = 'lead' THEN 1 ELSE 0 END), 0),
           coalesce(string_agg((a.verdict -> 'rule_ids')::text, ','), '')
    FROM action_record a WHERE a.exception_id = xid AND a.status = 'held')
  WHERE id = xid
$$;
CREATE OR REPLACE FUNCTION queue_refresh_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN PERFORM queue_refresh(OLD.exception_id); END IF;
  IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.exception_id <> OLD.exception_id) THEN
    PERFORM queue_refresh(NEW.exception_id);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER action_record_queue AFTER INSERT OR UPDATE OF exception_id, status, args, expires_at, required_role,
  verdict OR DELETE ON action_record FOR EACH ROW EXECUTE FUNCTION queue_refresh_trigger();
"""
_WATCHED = "exception_id, status, args, expires_at, required_role, verdict"


def _sqlite_triggers() -> list[str]:
    new, old = _SQLITE_REFRESH.format(x="NEW.exception_id", held=_HELD.format(x="NEW.exception_id")), \
        _SQLITE_REFRESH.format(x="OLD.exception_id", held=_HELD.format(x="OLD.exception_id"))
    return [
        f"CREATE TRIGGER action_record_queue_insert AFTER INSERT ON action_record BEGIN {new} END",
        f"CREATE TRIGGER action_record_queue_update AFTER UPDATE OF {_WATCHED} ON action_record BEGIN {old} {new} END",
        f"CREATE TRIGGER action_record_queue_delete AFTER DELETE ON action_record BEGIN {old} END",
    ]


def upgrade() -> None:
    with op.batch_alter_table('exceptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('owned_at', core.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('queue_held', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('queue_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('queue_deadline', core.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('queue_lead', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('queue_rules', sqlmodel.sql.sqltypes.AutoString(), server_default='',
                                      nullable=False))
        batch_op.create_index('ix_exceptions_state_owner', ['state', 'owner'], unique=False)
    with op.batch_alter_table('action_record', schema=None) as batch_op:
        batch_op.create_index('ix_action_record_status_exception', ['status', 'exception_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTIONS)
        op.execute("SELECT queue_refresh(id) FROM exceptions WHERE id IN (SELECT exception_id FROM action_record "
                   "WHERE status = 'held')")
    else:
        for statement in _sqlite_triggers():
            op.execute(statement)
        op.execute(_SQLITE_REFRESH.format(x="exceptions.id", held=_HELD.format(x="exceptions.id")))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS action_record_queue ON action_record")
        op.execute("DROP FUNCTION IF EXISTS queue_refresh_trigger()")
        op.execute("DROP FUNCTION IF EXISTS queue_refresh(varchar)")
    else:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS action_record_queue_{name}")
    with op.batch_alter_table('action_record', schema=None) as batch_op:
        batch_op.drop_index('ix_action_record_status_exception')
    with op.batch_alter_table('exceptions', schema=None) as batch_op:
        batch_op.drop_index('ix_exceptions_state_owner')
        for column in ('queue_rules', 'queue_lead', 'queue_deadline', 'queue_cents', 'queue_held', 'owned_at',
                       'owner'):
            batch_op.drop_column(column)
