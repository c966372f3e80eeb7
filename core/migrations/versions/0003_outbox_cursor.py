"""outbox cursor: how far the re-planning consumer has read, and the exceptions due to be planned again

Revision ID: 0003_outbox_cursor
Revises: 0002_audit_chain
Create Date: 2026-12-02 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # the submodule autogenerate refers to (sqlmodel.sql.sqltypes.AutoString)
from alembic import op

import core.types

revision = '0003_outbox_cursor'
down_revision = '0002_audit_chain'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbox_cursor',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('leased_at', core.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('replan_due',
    sa.Column('exception_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('event_seq', sa.Integer(), nullable=False),
    sa.Column('at', core.types.UTCDateTime(), nullable=False),
    sa.Column('done_at', core.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('exception_id', 'event_seq')
    )
    with op.batch_alter_table('replan_due', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_replan_due_done_at'), ['done_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('replan_due', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_replan_due_done_at'))
    op.drop_table('replan_due')
    op.drop_table('outbox_cursor')
