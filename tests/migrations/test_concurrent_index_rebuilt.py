"""Revisions 0010 and 0011: an index a failed concurrent build left INVALID is rebuilt.

On PostgreSQL these indexes are built with CREATE INDEX CONCURRENTLY IF NOT EXISTS. A
build that fails or is cancelled leaves the index behind, marked invalid (never used by
a query, still written on every insert), and IF NOT EXISTS alone would skip it on the
re-run. The test leaves such an index (built on another column, then marked invalid as
PostgreSQL marks a failed build) and runs the upgrade again. SQLite builds the indexes
in the migration's transaction, so no invalid index can remain: there the test holds
the upgrade to building them.
"""

from __future__ import annotations

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import Flask

from licensing.extensions import db

CASES = [
    # (revision before, revision, index, table, a column the broken build had, its columns)
    ("0009", "0010", "ix_usage_observations_ip_hash", "usage_observations", "day", ["ip_hash"]),
    (
        "0009",
        "0010",
        "ix_usage_observations_server_name_hash",
        "usage_observations",
        "day",
        ["server_name_hash"],
    ),
    (
        "0010",
        "0011",
        "ix_audit_events_subject_id_seq",
        "audit_events",
        "subject_id",
        ["subject_id", "seq"],
    ),
]


def _leave_invalid(connection: sa.Connection, name: str, table: str, column: str) -> None:
    connection.exec_driver_sql(f'CREATE INDEX "{name}" ON {table} ({column})')
    # What a cancelled CREATE INDEX CONCURRENTLY leaves (needs a superuser).
    connection.execute(
        sa.text(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = CAST(:name AS regclass)"
        ),
        {"name": name},
    )


def _valid(connection: sa.Connection, name: str) -> bool | None:
    return connection.scalar(
        sa.text(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = :name"
        ),
        {"name": name},
    )


@pytest.mark.parametrize(("before", "revision", "name", "table", "broken_on", "columns"), CASES)
def test_an_invalid_index_left_by_a_failed_build_is_rebuilt(
    fresh_app: Flask,
    before: str,
    revision: str,
    name: str,
    table: str,
    broken_on: str,
    columns: list[str],
) -> None:
    with fresh_app.app_context():
        flask_migrate.upgrade(revision=before)
        postgresql = db.engine.dialect.name == "postgresql"
        if postgresql:
            with db.engine.begin() as connection:
                _leave_invalid(connection, name, table, broken_on)
                assert _valid(connection, name) is False

        flask_migrate.upgrade(revision=revision)

        indexes = {index["name"]: index for index in sa.inspect(db.engine).get_indexes(table)}
        assert indexes[name]["column_names"] == columns  # built anew, not the broken one
        if postgresql:
            with db.engine.connect() as connection:
                assert _valid(connection, name) is True


def test_a_valid_index_of_that_name_is_kept(fresh_app: Flask) -> None:
    """Only an invalid index is dropped: a valid one (built by hand, say) stays."""
    name = "ix_audit_events_subject_id_seq"
    with fresh_app.app_context():
        flask_migrate.upgrade(revision="0010")
        postgresql = db.engine.dialect.name == "postgresql"
        if postgresql:
            with db.engine.begin() as connection:
                connection.exec_driver_sql(
                    f'CREATE INDEX "{name}" ON audit_events (subject_id, seq)'
                )
                oid = connection.scalar(sa.text("SELECT CAST(:n AS regclass)::oid"), {"n": name})

        flask_migrate.upgrade(revision="0011")

        with db.engine.connect() as connection:
            if postgresql:
                kept = connection.scalar(sa.text("SELECT CAST(:n AS regclass)::oid"), {"n": name})
                assert kept == oid and _valid(connection, name) is True
        indexes = {i["name"]: i for i in sa.inspect(db.engine).get_indexes("audit_events")}
        assert indexes[name]["column_names"] == ["subject_id", "seq"]
