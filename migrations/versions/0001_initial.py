"""license domain, server keys, replay store and audit log

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 14:52:39.931650
"""

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_events',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_events_hash'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_action'), ['action'], unique=False)

    op.create_table('customers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('company', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_email'), ['email'], unique=False)

    op.create_table('products',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
    sa.UniqueConstraint('code', name=op.f('uq_products_code'))
    )
    op.create_table('replay_nonces',
    sa.Column('key_id', sa.String(length=22), nullable=False),
    sa.Column('nonce', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key_id', 'nonce', name=op.f('pk_replay_nonces'))
    )
    with op.batch_alter_table('replay_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_replay_nonces_expires_at'), ['expires_at'], unique=False)

    op.create_table('server_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('sealed_private_key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('publish_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_server_keys'))
    )
    op.create_table('editions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('max_activations', sa.Integer(), nullable=False),
    sa.Column('migration_window_days', sa.Integer(), nullable=False),
    sa.Column('migration_allowance', sa.Integer(), nullable=False),
    sa.Column('check_in_interval_seconds', sa.Integer(), nullable=False),
    sa.Column('dead_after_intervals', sa.Integer(), nullable=False),
    sa.Column('offline_grace_days', sa.Integer(), nullable=False),
    sa.Column('entitlements', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('term_days', sa.Integer(), nullable=True),
    sa.Column('upgrade_protection_months', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('check_in_interval_seconds >= 60', name=op.f('ck_editions_check_in_interval_minimum')),
    sa.CheckConstraint('dead_after_intervals >= 1', name=op.f('ck_editions_dead_after_positive')),
    sa.CheckConstraint('max_activations >= 1', name=op.f('ck_editions_max_activations_positive')),
    sa.CheckConstraint('migration_allowance >= 0', name=op.f('ck_editions_migration_allowance_not_negative')),
    sa.CheckConstraint('migration_window_days >= 0', name=op.f('ck_editions_migration_window_not_negative')),
    sa.CheckConstraint('offline_grace_days >= 1', name=op.f('ck_editions_offline_grace_positive')),
    sa.CheckConstraint('term_days IS NULL OR term_days >= 1', name=op.f('ck_editions_term_positive')),
    sa.CheckConstraint('upgrade_protection_months >= 0', name=op.f('ck_editions_upgrade_protection_not_negative')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_editions_product_id_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_editions')),
    sa.UniqueConstraint('product_id', 'code', name=op.f('uq_editions_product_id_code'))
    )
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_editions_product_id'), ['product_id'], unique=False)

    op.create_table('releases',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_releases_product_id_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_releases')),
    sa.UniqueConstraint('product_id', 'version', name=op.f('uq_releases_product_id_version'))
    )
    with op.batch_alter_table('releases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_releases_product_id'), ['product_id'], unique=False)

    op.create_table('licenses',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('key_id', sa.String(length=22), nullable=False),
    sa.Column('sealed_key', sa.LargeBinary(), nullable=False),
    sa.Column('key_hint', sa.String(length=5), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('edition_id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('selling_partner_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.String(length=500), nullable=True),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('upgrade_protection_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('max_activations_override', sa.Integer(), nullable=True),
    sa.Column('processing_restricted', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'suspended', 'revoked')", name=op.f('ck_licenses_status_known')),
    sa.CheckConstraint('max_activations_override IS NULL OR max_activations_override >= 1', name=op.f('ck_licenses_max_activations_override_positive')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_licenses_customer_id_customers')),
    sa.ForeignKeyConstraint(['edition_id'], ['editions.id'], name=op.f('fk_licenses_edition_id_editions')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_licenses_product_id_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_licenses')),
    sa.UniqueConstraint('key_id', name=op.f('uq_licenses_key_id'))
    )
    with op.batch_alter_table('licenses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_licenses_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_licenses_edition_id'), ['edition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_licenses_product_id'), ['product_id'], unique=False)

    op.create_table('activations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('license_id', sa.Uuid(), nullable=False),
    sa.Column('fingerprint', sa.String(length=128), nullable=False),
    sa.Column('server_name', sa.String(length=253), nullable=True),
    sa.Column('product_version', sa.String(length=64), nullable=False),
    sa.Column('platform', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_check_in_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('release_reason', sa.String(length=16), nullable=True),
    sa.CheckConstraint("release_reason IS NULL OR release_reason IN ('deactivated', 'culled', 'staff', 'migration')", name=op.f('ck_activations_release_reason_known')),
    sa.CheckConstraint("status IN ('active', 'released')", name=op.f('ck_activations_status_known')),
    sa.ForeignKeyConstraint(['license_id'], ['licenses.id'], name=op.f('fk_activations_license_id_licenses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activations'))
    )
    with op.batch_alter_table('activations', schema=None) as batch_op:
        batch_op.create_index('ix_activations_license_id_status', ['license_id', 'status'], unique=False)
        batch_op.create_index('ix_activations_status_last_check_in_at', ['status', 'last_check_in_at'], unique=False)
        batch_op.create_index('uq_activations_live_fingerprint', ['license_id', 'fingerprint'], unique=True, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.create_table('usage_observations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('activation_id', sa.Uuid(), nullable=False),
    sa.Column('license_id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('observation_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('ip_hash', sa.LargeBinary(length=32), nullable=True),
    sa.Column('ip_prefix', sa.String(length=49), nullable=True),
    sa.Column('server_name', sa.String(length=253), nullable=True),
    sa.Column('server_name_hash', sa.LargeBinary(length=32), nullable=True),
    sa.Column('product_version', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('usage', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('pseudonymised_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('count >= 1', name=op.f('ck_usage_observations_count_positive')),
    sa.ForeignKeyConstraint(['activation_id'], ['activations.id'], name=op.f('fk_usage_observations_activation_id_activations')),
    sa.ForeignKeyConstraint(['license_id'], ['licenses.id'], name=op.f('fk_usage_observations_license_id_licenses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_observations')),
    sa.UniqueConstraint('activation_id', 'day', 'observation_key', name=op.f('uq_usage_observations_activation_id_day_observation_key'))
    )
    with op.batch_alter_table('usage_observations', schema=None) as batch_op:
        batch_op.create_index('ix_usage_observations_license_id_day', ['license_id', 'day'], unique=False)



def downgrade():
    with op.batch_alter_table('usage_observations', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_observations_license_id_day')

    op.drop_table('usage_observations')
    with op.batch_alter_table('activations', schema=None) as batch_op:
        batch_op.drop_index('uq_activations_live_fingerprint', sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
        batch_op.drop_index('ix_activations_status_last_check_in_at')
        batch_op.drop_index('ix_activations_license_id_status')

    op.drop_table('activations')
    with op.batch_alter_table('licenses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_licenses_product_id'))
        batch_op.drop_index(batch_op.f('ix_licenses_edition_id'))
        batch_op.drop_index(batch_op.f('ix_licenses_customer_id'))

    op.drop_table('licenses')
    with op.batch_alter_table('releases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_releases_product_id'))

    op.drop_table('releases')
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_editions_product_id'))

    op.drop_table('editions')
    op.drop_table('server_keys')
    with op.batch_alter_table('replay_nonces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_replay_nonces_expires_at'))

    op.drop_table('replay_nonces')
    op.drop_table('products')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_email'))

    op.drop_table('customers')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_action'))

    op.drop_table('audit_events')
