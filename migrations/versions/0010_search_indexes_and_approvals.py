"""staff search indexes on usage observations; approval requests (four eyes)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 17:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

SEARCH_INDEXES = {
    'ix_usage_observations_ip_hash': 'ip_hash',
    'ix_usage_observations_server_name_hash': 'server_name_hash',
    'ix_usage_observations_ip_prefix': 'ip_prefix',
}


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        # Built without blocking check-ins: a plain CREATE INDEX holds off every insert
        # into usage_observations for as long as it reads the table (3 s at 3 million rows).
        with op.get_context().autocommit_block():
            for name, column in SEARCH_INDEXES.items():
                _drop_if_invalid(name)
                op.create_index(name, 'usage_observations', [column], postgresql_concurrently=True, if_not_exists=True)
    else:
        with op.batch_alter_table('usage_observations', schema=None) as batch_op:
            for name, column in SEARCH_INDEXES.items():
                batch_op.create_index(name, [column], unique=False)

    op.create_table('approval_requests',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('requested_by', sa.Uuid(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.String(length=1000), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'withdrawn')", name=op.f('ck_approval_requests_status_known')),
    sa.CheckConstraint('decided_by IS NULL OR decided_by <> requested_by', name=op.f('ck_approval_requests_decided_by_another')),
    sa.ForeignKeyConstraint(['decided_by'], ['staff_users.id'], name=op.f('fk_approval_requests_decided_by_staff_users')),
    sa.ForeignKeyConstraint(['requested_by'], ['staff_users.id'], name=op.f('fk_approval_requests_requested_by_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_requests'))
    )
    with op.batch_alter_table('approval_requests', schema=None) as batch_op:
        batch_op.create_index('ix_approval_requests_status_requested_at', ['status', 'requested_at'], unique=False)
        batch_op.create_index('uq_approval_requests_pending', ['action', 'subject_id'], unique=True, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))


def _drop_if_invalid(name):
    """Drop the index ``name`` if a build of it failed or was cancelled.

    CREATE INDEX CONCURRENTLY that fails leaves the index behind marked INVALID: never
    used by queries, still costing every insert, and skipped by IF NOT EXISTS on the
    re-run. A valid index of that name is kept (the re-run then skips it). Defined in
    each migration that needs it, not imported: a migration must not change when
    shared code does.
    """
    invalid = op.get_bind().scalar(
        sa.text(
            "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = :name AND pg_catalog.pg_table_is_visible(c.oid)"
        ),
        {'name': name},
    )
    if invalid:
        op.execute(sa.text(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"'))


def downgrade():
    with op.batch_alter_table('approval_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_approval_requests_pending', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index('ix_approval_requests_status_requested_at')
    op.drop_table('approval_requests')
    with op.batch_alter_table('usage_observations', schema=None) as batch_op:
        for name in SEARCH_INDEXES:
            batch_op.drop_index(name)
