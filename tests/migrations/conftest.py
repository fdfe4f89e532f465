"""Fixtures for migration tests: a database of the test's own, at any revision."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from licensing import create_app
from licensing.extensions import db
from tests.databases import TEST_DATABASE_ENV, fresh_postgresql_database


@pytest.fixture
def fresh_app(
    app_config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """An app on a database of its own (SQLite file, or a new PostgreSQL database)."""
    url = sa.engine.make_url(app_config["LICENSING_DATABASE_URL"])
    with ExitStack() as stack:
        if url.get_backend_name() == "sqlite":
            url = url.set(database=str(tmp_path_factory.mktemp("migrations") / "m.sqlite3"))
        else:
            given = os.environ[TEST_DATABASE_ENV]
            url = sa.engine.make_url(stack.enter_context(fresh_postgresql_database(given)))
        app = create_app(app_config | {"LICENSING_DATABASE_URL": url.render_as_string(False)})
        try:
            yield app
        finally:
            with app.app_context():
                db.engine.dispose()
