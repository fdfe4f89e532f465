"""The migrations build the schema the models describe: nothing more, nothing less.

A fresh database is upgraded to the head with the migrations, then Alembic's
autogenerate compares it with the models' metadata; any difference (a table, a column,
its type or nullability, an index, a unique or foreign-key constraint) fails the test
and is listed. On SQLite and, with ``LICENSING_TEST_DATABASE_URL``, on PostgreSQL.
"""

from __future__ import annotations

import warnings
from typing import Any

import flask_migrate
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from licensing.extensions import db


def _differences(app: Flask, metadata: sa.MetaData = db.metadata) -> list[Any]:
    with app.app_context():
        flask_migrate.upgrade()
        with db.engine.connect() as connection, warnings.catch_warnings():
            # SQLite cannot reflect an index on an expression (lower(email)); PostgreSQL
            # compares it (as migrations/env.py says for `licensing db check`).
            warnings.filterwarnings("ignore", message=".*expression-based index")
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False}
            )
            return list(compare_metadata(context, metadata))


def test_the_migrated_schema_is_the_models_schema(fresh_app: Flask) -> None:
    differences = _differences(fresh_app)
    assert differences == [], "\n".join(repr(d) for d in differences)


def test_a_difference_would_be_seen(fresh_app: Flask) -> None:
    """The comparison is not vacuous: a column the migrations never made is reported."""
    altered = sa.MetaData()
    for table in db.metadata.sorted_tables:
        table.to_metadata(altered)
    altered.tables["customers"].append_column(sa.Column("probe_not_migrated", sa.Integer))
    differences = _differences(fresh_app, altered)
    assert [d[0] for d in differences] == ["add_column"]
    assert differences[0][3].name == "probe_not_migrated"
