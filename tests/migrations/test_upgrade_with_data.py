"""Migrations upgrade a database that already holds data, and downgrade to nothing.

The session's schema is built on an empty database; this proves the revisions also work
on a populated one (on SQLite, batch migrations rebuild tables that others reference).
"""

from __future__ import annotations

import uuid

import flask_migrate
import sqlalchemy as sa
from flask import Flask

from licensing.database import head_revisions
from licensing.extensions import db

BEFORE_PARTNERS = "0002"


def _seed(connection: sa.Connection) -> uuid.UUID:
    """A product, edition, customer, license and activation, written as plain SQL."""
    ids = {name: uuid.uuid4() for name in ("product", "edition", "customer", "license", "act")}
    hexed = {k: v.hex if connection.dialect.name == "sqlite" else str(v) for k, v in ids.items()}
    now = "2026-01-01 00:00:00"
    statements = [
        ("INSERT INTO products (id, code, name, created_at) VALUES (:product, 'p', 'P', :now)"),
        (
            "INSERT INTO editions (id, product_id, code, name, max_activations,"
            " migration_window_days, migration_allowance, check_in_interval_seconds,"
            " dead_after_intervals, offline_grace_days, entitlements, upgrade_protection_months,"
            " created_at) VALUES (:edition, :product, 'e', 'E', 1, 30, 1, 86400, 3, 7, '[]', 12,"
            " :now)"
        ),
        (
            "INSERT INTO customers (id, name, email, created_at)"
            " VALUES (:customer, 'A', 'a@example.com', :now)"
        ),
        (
            "INSERT INTO licenses (id, key_id, sealed_key, key_hint, product_id, edition_id,"
            " customer_id, status, status_changed_at, issued_at, processing_restricted,"
            " created_at) VALUES (:license, 'kkkkkkkkkkkkkkkkkkkkkk', :blob, 'ABCDE', :product,"
            " :edition, :customer, 'active', :now, :now, false, :now)"
        ),
        (
            "INSERT INTO activations (id, license_id, fingerprint, product_version, status,"
            " activated_at, last_check_in_at) VALUES (:act, :license, 'ffffffffffffffffff',"
            " '1.0.0', 'active', :now, :now)"
        ),
    ]
    for statement in statements:
        connection.execute(sa.text(statement), hexed | {"now": now, "blob": b"\x01sealed"})
    return ids["license"]


def test_upgrade_keeps_existing_rows_and_downgrades_to_base(fresh_app: Flask) -> None:
    with fresh_app.app_context():
        flask_migrate.upgrade(revision=BEFORE_PARTNERS)
        with db.engine.begin() as connection:
            _seed(connection)

        flask_migrate.upgrade()

        with db.engine.connect() as connection:
            version = connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
            licenses = connection.scalar(sa.text("SELECT count(*) FROM licenses"))
            activations = connection.scalar(sa.text("SELECT count(*) FROM activations"))
            if connection.dialect.name == "sqlite":
                assert connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        assert {version} == set(head_revisions())
        assert (licenses, activations) == (1, 1)

        flask_migrate.downgrade(revision="base")
        with db.engine.connect() as connection:
            assert sa.inspect(connection).get_table_names() == ["alembic_version"]
