"""misuse: lease presentations, signature failures, cases, their events, exceptions, scan state

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 14:45:24.866991
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('misuse_scan_state',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('scanned_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('full_scan_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_misuse_scan_state'))
    )
    op.create_table('signature_failures',
    sa.Column('key_id', sa.String(length=22), nullable=False),
    sa.Column('bucket_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.CheckConstraint('count >= 1', name=op.f('ck_signature_failures_count_positive')),
    sa.PrimaryKeyConstraint('key_id', 'bucket_start', name=op.f('pk_signature_failures'))
    )
    with op.batch_alter_table('signature_failures', schema=None) as batch_op:
        batch_op.create_index('ix_signature_failures_bucket_start', ['bucket_start'], unique=False)

    op.create_table('misuse_cases',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('license_id', sa.Uuid(), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('evidence', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('assignee', sa.String(length=100), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decision_reason', sa.String(length=1000), nullable=True),
    sa.Column('decided_evidence', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('escalation_step', sa.String(length=16), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("escalation_step IS NULL OR escalation_step IN ('notify_customer', 'final_notice', 'suspend')", name=op.f('ck_misuse_cases_escalation_step_known')),
    sa.CheckConstraint("severity IN ('low', 'medium', 'high')", name=op.f('ck_misuse_cases_severity_known')),
    sa.CheckConstraint("status IN ('open', 'confirmed', 'dismissed')", name=op.f('ck_misuse_cases_status_known')),
    sa.ForeignKeyConstraint(['license_id'], ['licenses.id'], name=op.f('fk_misuse_cases_license_id_licenses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_misuse_cases')),
    sa.UniqueConstraint('license_id', 'rule', name=op.f('uq_misuse_cases_license_id_rule'))
    )
    with op.batch_alter_table('misuse_cases', schema=None) as batch_op:
        batch_op.create_index('ix_misuse_cases_rule', ['rule'], unique=False)
        batch_op.create_index('ix_misuse_cases_status_severity', ['status', 'severity'], unique=False)

    op.create_table('misuse_exceptions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('license_id', sa.Uuid(), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('declared_by', sa.String(length=100), nullable=False),
    sa.Column('declared_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.String(length=100), nullable=True),
    sa.Column('covered_evidence', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['license_id'], ['licenses.id'], name=op.f('fk_misuse_exceptions_license_id_licenses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_misuse_exceptions'))
    )
    with op.batch_alter_table('misuse_exceptions', schema=None) as batch_op:
        batch_op.create_index('ix_misuse_exceptions_license_id_rule', ['license_id', 'rule'], unique=False)

    op.create_table('lease_presentations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('license_id', sa.Uuid(), nullable=False),
    sa.Column('activation_id', sa.Uuid(), nullable=False),
    sa.Column('presented_jti', sa.String(length=64), nullable=False),
    sa.Column('newest_jti', sa.String(length=64), nullable=False),
    sa.Column('issued_jti', sa.String(length=64), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ip_prefix', sa.String(length=49), nullable=True),
    sa.Column('ip_hash', sa.LargeBinary(length=32), nullable=True),
    sa.ForeignKeyConstraint(['activation_id'], ['activations.id'], name=op.f('fk_lease_presentations_activation_id_activations')),
    sa.ForeignKeyConstraint(['license_id'], ['licenses.id'], name=op.f('fk_lease_presentations_license_id_licenses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lease_presentations'))
    )
    with op.batch_alter_table('lease_presentations', schema=None) as batch_op:
        batch_op.create_index('ix_lease_presentations_license_id_at', ['license_id', 'at'], unique=False)

    op.create_table('misuse_case_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['misuse_cases.id'], name=op.f('fk_misuse_case_events_case_id_misuse_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_misuse_case_events'))
    )
    with op.batch_alter_table('misuse_case_events', schema=None) as batch_op:
        batch_op.create_index('ix_misuse_case_events_case_id_at', ['case_id', 'at'], unique=False)

    with op.batch_alter_table('activations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_jti', sa.String(length=64), nullable=True))



def downgrade():
    with op.batch_alter_table('activations', schema=None) as batch_op:
        batch_op.drop_column('lease_jti')

    with op.batch_alter_table('misuse_case_events', schema=None) as batch_op:
        batch_op.drop_index('ix_misuse_case_events_case_id_at')

    op.drop_table('misuse_case_events')
    with op.batch_alter_table('lease_presentations', schema=None) as batch_op:
        batch_op.drop_index('ix_lease_presentations_license_id_at')

    op.drop_table('lease_presentations')
    with op.batch_alter_table('misuse_exceptions', schema=None) as batch_op:
        batch_op.drop_index('ix_misuse_exceptions_license_id_rule')

    op.drop_table('misuse_exceptions')
    with op.batch_alter_table('misuse_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_misuse_cases_status_severity')
        batch_op.drop_index('ix_misuse_cases_rule')

    op.drop_table('misuse_cases')
    with op.batch_alter_table('signature_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_signature_failures_bucket_start')

    op.drop_table('signature_failures')
    op.drop_table('misuse_scan_state')
