"""staff users: console accounts with argon2id hashes, roles and sign-in lockout

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 15:55:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

INDEX = 'uq_staff_users_email_lower'


def upgrade():
    op.create_table('staff_users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sessions_valid_after', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('viewer', 'analyst', 'admin')", name=op.f('ck_staff_users_role_known')),
    sa.CheckConstraint('failed_logins >= 0', name=op.f('ck_staff_users_failed_logins_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_users'))
    )
    # Case-insensitive uniqueness: Alice@Example.org and alice@example.org are one person.
    op.create_index(INDEX, 'staff_users', [sa.text('lower(email)')], unique=True)


def downgrade():
    op.drop_index(INDEX, table_name='staff_users')
    op.drop_table('staff_users')
