"""The customer commands run while the upgrade to 0004 stops on shared addresses.

The upgrade's message asks the operator to run ``licensing customer update``; the
commands it names work on the schema the upgrade left behind, and the upgrade then
goes through.
"""

from __future__ import annotations

import uuid

import flask_migrate
import sqlalchemy as sa
from flask import Flask

from licensing.database import head_revisions
from licensing.errors import ConfigError, Conflict
from licensing.extensions import db
from tests.functional.cli.invoke import Licensing

BEFORE = "0003"


def _add_customer(connection: sa.Connection, name: str, email: str, order: int) -> str:
    customer_id = uuid.uuid4()
    connection.execute(
        sa.text(
            "INSERT INTO customers (id, name, email, created_at)"
            " VALUES (:id, :name, :email, :created_at)"
        ),
        {
            "id": customer_id.hex if connection.dialect.name == "sqlite" else str(customer_id),
            "name": name,
            "email": email,
            "created_at": f"2026-01-01 00:00:{order:02d}",
        },
    )
    return str(customer_id)


def _version(app: Flask) -> frozenset[str]:
    with app.app_context(), db.engine.connect() as connection:
        return frozenset(connection.scalars(sa.text("SELECT version_num FROM alembic_version")))


def test_customer_commands_tell_shared_addresses_apart_then_the_upgrade_runs(
    fresh_app: Flask,
) -> None:
    with fresh_app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        with db.engine.begin() as connection:
            first = _add_customer(connection, "first", "same@example.com", 0)
            second = _add_customer(connection, "second", "Same@Example.com", 1)
    licensing = Licensing(fresh_app.test_cli_runner())

    listed = licensing.json("customer", "list")
    shown = licensing.json("customer", "show", second)
    # A command that uses later tables refuses the old schema (the upgrade still stops).
    refused = licensing.fails("product", "list")
    taken = licensing.fails("customer", "update", second, "--email", "SAME@example.com")
    updated = licensing.json("customer", "update", second, "--email", "other@example.com")

    assert [(row["id"], row["email"]) for row in listed] == [
        (first, "same@example.com"),
        (second, "Same@Example.com"),
    ]
    assert shown["id"] == second
    assert isinstance(refused, (ConfigError, Conflict))
    assert isinstance(taken, Conflict)  # the service's own check, without the index
    assert updated["email"] == "other@example.com"
    assert _version(fresh_app) == {BEFORE}

    licensing.ok("db", "upgrade")

    assert _version(fresh_app) == head_revisions()
    assert [row["email"] for row in licensing.json("customer", "list")] == [
        "same@example.com",
        "other@example.com",
    ]
