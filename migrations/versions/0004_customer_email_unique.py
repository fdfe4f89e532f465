"""customer e-mail addresses unique whatever their case

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:05:00.000000

Customers who already share an address (in any case) are reported, never merged or
dropped: the upgrade stops, names them by id, and the operator decides who keeps it.
"""

import uuid
from itertools import groupby

import sqlalchemy as sa
from alembic import op

from licensing.errors import Conflict

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

INDEX = 'uq_customers_email_lower'


def upgrade():
    _refuse_shared_addresses(op.get_bind())
    op.create_index(INDEX, 'customers', [sa.text('lower(email)')], unique=True)


def downgrade():
    op.drop_index(INDEX, table_name='customers')


def _refuse_shared_addresses(connection):
    rows = connection.execute(sa.text(
        "SELECT lower(email), id FROM customers WHERE lower(email) IN"
        " (SELECT lower(email) FROM customers GROUP BY lower(email) HAVING count(*) > 1)"
        " ORDER BY lower(email), created_at, id"
    )).all()
    if not rows:
        return
    # Ids only: the message reaches terminals and logs, the addresses must not.
    groups = [
        ", ".join(str(uuid.UUID(str(row[1]))) for row in members)
        for _, members in groupby(rows, key=lambda row: row[0])
    ]
    raise Conflict(
        f"cannot make customer e-mail addresses unique: {len(groups)} address(es) are"
        f" each held by several customers (ignoring case): {'; '.join(groups)}."
        " Give all but one customer of each group another address with"
        " `licensing customer update CUSTOMER_ID --email ADDRESS`, then upgrade again."
    )
