"""partners, partner keys, disclosures

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 15:09:19.372409
"""

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('partners',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('allowed_networks', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('rate_limit', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('reseller', 'lease_provider')", name=op.f('ck_partners_kind_known')),
    sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f('ck_partners_status_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partners')),
    sa.UniqueConstraint('name', name=op.f('uq_partners_name'))
    )
    op.create_table('partner_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_partner_keys_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_keys')),
    sa.UniqueConstraint('key_id', name=op.f('uq_partner_keys_key_id'))
    )
    with op.batch_alter_table('partner_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_keys_partner_id'), ['partner_id'], unique=False)

    op.create_table('partner_products',
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_partner_products_partner_id_partners')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_partner_products_product_id_products')),
    sa.PrimaryKeyConstraint('partner_id', 'product_id', name=op.f('pk_partner_products'))
    )
    op.create_table('disclosures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('license_id', sa.Uuid(), nullable=False),
    sa.Column('partner_key_id', sa.String(length=16), nullable=False),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('disclosed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['license_id'], ['licenses.id'], name=op.f('fk_disclosures_license_id_licenses')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_disclosures_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosures'))
    )
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.create_index('ix_disclosures_license_id_disclosed_at', ['license_id', 'disclosed_at'], unique=False)
        batch_op.create_index('ix_disclosures_partner_id_disclosed_at', ['partner_id', 'disclosed_at'], unique=False)

    with op.batch_alter_table('licenses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_licenses_selling_partner_id'), ['selling_partner_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_licenses_selling_partner_id_partners'), 'partners', ['selling_partner_id'], ['id'])



def downgrade():
    with op.batch_alter_table('licenses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_licenses_selling_partner_id_partners'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_licenses_selling_partner_id'))

    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.drop_index('ix_disclosures_partner_id_disclosed_at')
        batch_op.drop_index('ix_disclosures_license_id_disclosed_at')

    op.drop_table('disclosures')
    op.drop_table('partner_products')
    with op.batch_alter_table('partner_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_keys_partner_id'))

    op.drop_table('partner_keys')
    op.drop_table('partners')
