"""keyed-hash keys per month for usage data: hash_keys gains a period

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 21:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    # Existing rows are the fixed keys (stored by a master-key rotation): period ''.
    with op.batch_alter_table("hash_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("period", sa.String(length=7), server_default="", nullable=False)
        )
        batch_op.drop_constraint("pk_hash_keys", type_="primary")
        batch_op.create_primary_key("pk_hash_keys", ["purpose", "period"])


def downgrade():
    # A period key cannot become a fixed one: the hashes made under it go with it.
    op.execute("DELETE FROM hash_keys WHERE period <> ''")
    with op.batch_alter_table("hash_keys", schema=None) as batch_op:
        batch_op.drop_constraint("pk_hash_keys", type_="primary")
        batch_op.create_primary_key("pk_hash_keys", ["purpose"])
        batch_op.drop_column("period")
