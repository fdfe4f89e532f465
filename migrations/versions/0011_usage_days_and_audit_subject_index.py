"""usage per day for the dashboard; indexes for a license's audit trail and licenses ending soon

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 18:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

LICENSE_INDEXES = {
    'ix_licenses_expires_at': 'expires_at',
    'ix_licenses_upgrade_protection_until': 'upgrade_protection_until',
}


def upgrade():
    op.create_table('usage_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('check_ins', sa.BigInteger(), nullable=False),
    sa.Column('active_instances', sa.Integer(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_usage_days'))
    )

    # licenses is not written per check-in and holds one row per license: a plain build
    # is short and holds off only license changes (suspend, renew), not check-ins.
    with op.batch_alter_table('licenses', schema=None) as batch_op:
        for name, column in LICENSE_INDEXES.items():
            batch_op.create_index(name, [column], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        # Built without blocking appends: the audit log grows with every staff action and
        # license change, and a plain CREATE INDEX would hold them off while it reads it.
        with op.get_context().autocommit_block():
            _drop_if_invalid('ix_audit_events_subject_id_seq')
            op.create_index('ix_audit_events_subject_id_seq', 'audit_events', ['subject_id', 'seq'], postgresql_concurrently=True, if_not_exists=True)
    else:
        with op.batch_alter_table('audit_events', schema=None) as batch_op:
            batch_op.create_index('ix_audit_events_subject_id_seq', ['subject_id', 'seq'], unique=False)


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
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_subject_id_seq')
    with op.batch_alter_table('licenses', schema=None) as batch_op:
        for name in LICENSE_INDEXES:
            batch_op.drop_index(name)
    op.drop_table('usage_days')
