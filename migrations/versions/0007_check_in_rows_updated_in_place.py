"""check-in rows updated in place: no index on last_check_in_at, fillfactor on PostgreSQL

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 13:10:00.000000
"""

from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

FILLFACTORS = {'activations': 80, 'usage_observations': 90}


def upgrade():
    with op.batch_alter_table('activations', schema=None) as batch_op:
        batch_op.drop_index('ix_activations_status_last_check_in_at')
    if op.get_bind().dialect.name == 'postgresql':
        for table, fillfactor in FILLFACTORS.items():
            op.execute(f'ALTER TABLE {table} SET (fillfactor = {fillfactor})')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in FILLFACTORS:
            op.execute(f'ALTER TABLE {table} RESET (fillfactor)')
    with op.batch_alter_table('activations', schema=None) as batch_op:
        batch_op.create_index(
            'ix_activations_status_last_check_in_at', ['status', 'last_check_in_at'], unique=False
        )
