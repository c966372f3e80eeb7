"""queue owner: a supervisor takes a waiting exception ("mine") and others see who holds it; indexes the queue reads

The owner is a person, apart from `claimed_by` (a worker's lease). The
indexes serve the approvals queue: waiting exceptions by state and owner, and
the held actions of a page of exceptions by status.

Revision ID: 0003_queue_owner
Revises: 0002_audit_chain
Create Date: 2026-12-02 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # the submodule autogenerate refers to (sqlmodel.sql.sqltypes.AutoString)
from alembic import op

import core.types

revision = '0003_queue_owner'
down_revision = '0002_audit_chain'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('exceptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('owned_at', core.types.UTCDateTime(), nullable=True))
        batch_op.create_index('ix_exceptions_state_owner', ['state', 'owner'], unique=False)
    with op.batch_alter_table('action_record', schema=None) as batch_op:
        batch_op.create_index('ix_action_record_status_exception', ['status', 'exception_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('action_record', schema=None) as batch_op:
        batch_op.drop_index('ix_action_record_status_exception')
    with op.batch_alter_table('exceptions', schema=None) as batch_op:
        batch_op.drop_index('ix_exceptions_state_owner')
        batch_op.drop_column('owned_at')
        batch_op.drop_column('owner')
