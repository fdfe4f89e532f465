"""staff accounts anonymised by retention; signed anchors of a pruned audit chain

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 21:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

EMAIL_INDEX = 'uq_staff_users_email_lower'


def upgrade():
    op.create_table('audit_prune_anchors',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('pruned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('token', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_prune_anchors'))
    )
    # A plain ADD COLUMN on both backends: SQLite's batch mode would copy the table and
    # lose the expression index on lower(email).
    op.add_column('staff_users', sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    # The copy batch mode makes on SQLite drops the expression index: made again after.
    op.drop_index(EMAIL_INDEX, table_name='staff_users')
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('anonymised_at')
    op.create_index(EMAIL_INDEX, 'staff_users', [sa.text('lower(email)')], unique=True)
    op.drop_table('audit_prune_anchors')
