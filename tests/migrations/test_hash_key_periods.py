"""Revision 0013: ``hash_keys`` gains a period. The fixed keys a rotation stored keep
their rows (period ''), and a downgrade drops only the monthly keys."""

from __future__ import annotations

import flask_migrate
import sqlalchemy as sa
from flask import Flask

from licensing.extensions import db

BEFORE = "0012"


def _keys(connection: sa.Connection) -> set[tuple[str, ...]]:
    columns = {c["name"] for c in sa.inspect(connection).get_columns("hash_keys")}
    chosen = "purpose, period" if "period" in columns else "purpose"
    rows = connection.execute(sa.text(f"SELECT {chosen} FROM hash_keys"))
    return {tuple(row) for row in rows}


def test_stored_fixed_keys_become_period_less_rows_and_survive_a_round_trip(
    fresh_app: Flask,
) -> None:
    with fresh_app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        with db.engine.begin() as connection:
            for purpose in ("ip", "partner-key"):
                connection.execute(
                    sa.text(
                        "INSERT INTO hash_keys (purpose, sealed_key, created_at)"
                        " VALUES (:purpose, :sealed, :created_at)"
                    ),
                    {"purpose": purpose, "sealed": b"sealed", "created_at": "2026-01-01 00:00:00"},
                )

        flask_migrate.upgrade()
        with db.engine.begin() as connection:
            assert _keys(connection) == {("ip", ""), ("partner-key", "")}
            # The key is (purpose, period): one fixed and one monthly key per purpose.
            connection.execute(
                sa.text(
                    "INSERT INTO hash_keys (purpose, period, sealed_key, created_at)"
                    " VALUES ('ip', '2026-12', :sealed, '2026-12-01 00:00:00')"
                ),
                {"sealed": b"monthly"},
            )

        flask_migrate.downgrade(revision=BEFORE)
        with db.engine.begin() as connection:
            assert _keys(connection) == {("ip",), ("partner-key",)}
