"""keyed-hash keys kept sealed across master-key rotations

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-01 09:10:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('hash_keys',
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('sealed_key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('purpose', name=op.f('pk_hash_keys'))
    )


def downgrade():
    op.drop_table('hash_keys')
