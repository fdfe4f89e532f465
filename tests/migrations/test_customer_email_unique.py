"""Revision 0004: one customer per e-mail address (any case); shared ones stop the upgrade.

Customers who already share an address are reported by id and kept: the operator
decides who keeps the address, no row is merged or dropped.
"""

from __future__ import annotations

import uuid

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import Flask

from licensing.database import head_revisions
from licensing.errors import Conflict
from licensing.extensions import db

BEFORE = "0003"
ADDRESSES = {
    "ada1": "ada@example.com",
    "ada2": "ADA@example.com",
    "ada3": "Ada@Example.COM",
    "grace1": "grace@example.org",
    "grace2": "Grace@example.org",
    "alan": "alan@example.net",
}


def _add_customers(connection: sa.Connection) -> dict[str, uuid.UUID]:
    ids = {name: uuid.uuid4() for name in ADDRESSES}
    for order, (name, email) in enumerate(ADDRESSES.items()):
        connection.execute(
            sa.text(
                "INSERT INTO customers (id, name, email, created_at)"
                " VALUES (:id, :name, :email, :created_at)"
            ),
            {
                "id": ids[name].hex if connection.dialect.name == "sqlite" else str(ids[name]),
                "name": name,
                "email": email,
                "created_at": f"2026-01-01 00:00:{order:02d}",
            },
        )
    return ids


def _version(connection: sa.Connection) -> str | None:
    return connection.scalar(sa.text("SELECT version_num FROM alembic_version"))


def test_shared_addresses_stop_the_upgrade_and_are_listed_by_id(fresh_app: Flask) -> None:
    with fresh_app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        with db.engine.begin() as connection:
            ids = _add_customers(connection)

        with pytest.raises(Conflict) as stopped:
            flask_migrate.upgrade()

        message = stopped.value.detail
        ada = ", ".join(str(ids[name]) for name in ("ada1", "ada2", "ada3"))
        grace = ", ".join(str(ids[name]) for name in ("grace1", "grace2"))
        assert (
            f"2 address(es) are each held by several customers (ignoring case): {ada}; {grace}."
            in message
        )
        assert str(ids["alan"]) not in message
        assert "example" not in message  # ids only: no address reaches the terminal or log
        assert "licensing customer update CUSTOMER_ID --email ADDRESS" in message
        with db.engine.connect() as connection:
            assert _version(connection) == BEFORE
            assert connection.scalar(sa.text("SELECT count(*) FROM customers")) == len(ADDRESSES)


def test_once_addresses_are_told_apart_the_upgrade_makes_them_unique(fresh_app: Flask) -> None:
    with fresh_app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        with db.engine.begin() as connection:
            _add_customers(connection)
            for name in ("ada2", "ada3", "grace2"):
                connection.execute(
                    sa.text("UPDATE customers SET email = :email WHERE name = :name"),
                    {"email": f"{name}@example.com", "name": name},
                )

        flask_migrate.upgrade()

        with db.engine.connect() as connection:
            assert {_version(connection)} == set(head_revisions())
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO customers (id, name, email, created_at)"
                    " VALUES (:id, 'again', 'ALAN@example.net', '2026-01-02 00:00:00')"
                ),
                {"id": uuid.uuid4().hex},
            )

        flask_migrate.downgrade(revision=BEFORE)
        with db.engine.begin() as connection:  # without the index, the database allows it
            connection.execute(
                sa.text(
                    "INSERT INTO customers (id, name, email, created_at)"
                    " VALUES (:id, 'again', 'ALAN@example.net', '2026-01-02 00:00:00')"
                ),
                {"id": uuid.uuid4().hex},
            )
