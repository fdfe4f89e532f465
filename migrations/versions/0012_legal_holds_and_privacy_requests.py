"""legal holds; data-subject requests

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 20:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('legal_holds',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('license_id', sa.Uuid(), nullable=True),
    sa.Column('customer_id', sa.Uuid(), nullable=True),
    sa.Column('matter', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('review_on', sa.Date(), nullable=False),
    sa.Column('placed_by', sa.String(length=200), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_by', sa.String(length=200), nullable=True),
    sa.Column('release_reason', sa.String(length=1000), nullable=True),
    sa.CheckConstraint("scope IN ('license', 'customer')", name=op.f('ck_legal_holds_scope_known')),
    sa.CheckConstraint("(scope = 'license' AND license_id IS NOT NULL AND customer_id IS NULL) OR (scope = 'customer' AND customer_id IS NOT NULL AND license_id IS NULL)", name=op.f('ck_legal_holds_scope_matches_subject')),
    sa.ForeignKeyConstraint(['case_id'], ['misuse_cases.id'], name=op.f('fk_legal_holds_case_id_misuse_cases')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_legal_holds_customer_id_customers')),
    sa.ForeignKeyConstraint(['license_id'], ['licenses.id'], name=op.f('fk_legal_holds_license_id_licenses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_holds'))
    )
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.create_index('ix_legal_holds_customer_id', ['customer_id'], unique=False)
        batch_op.create_index('ix_legal_holds_license_id', ['license_id'], unique=False)
        batch_op.create_index('ix_legal_holds_released_at_review_on', ['released_at', 'review_on'], unique=False)

    op.create_table('privacy_requests',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('identity_verification', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_by', sa.String(length=200), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=2000), nullable=True),
    sa.CheckConstraint("kind IN ('access', 'rectification', 'erasure', 'restriction', 'objection', 'lift_restriction')", name=op.f('ck_privacy_requests_kind_known')),
    sa.CheckConstraint("status IN ('open', 'completed', 'refused')", name=op.f('ck_privacy_requests_status_known')),
    sa.CheckConstraint('due_at >= received_at', name=op.f('ck_privacy_requests_due_after_receipt')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_privacy_requests_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_requests'))
    )
    with op.batch_alter_table('privacy_requests', schema=None) as batch_op:
        batch_op.create_index('ix_privacy_requests_closed_at', ['closed_at'], unique=False)
        batch_op.create_index('ix_privacy_requests_customer_id', ['customer_id'], unique=False)
        batch_op.create_index('ix_privacy_requests_status_due_at', ['status', 'due_at'], unique=False)


def downgrade():
    op.drop_table('privacy_requests')
    op.drop_table('legal_holds')
