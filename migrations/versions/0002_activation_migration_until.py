"""activation migration allowance end

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:03:01.027742
"""

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('activations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('migration_until', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('activations', schema=None) as batch_op:
        batch_op.drop_column('migration_until')

