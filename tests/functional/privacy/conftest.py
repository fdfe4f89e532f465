"""An application on a database of its own whose writes are really committed: erasure's
proofs read the database files and copy them as backups."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import Flask

from licensing import create_app
from licensing.extensions import db
from tests.databases import TEST_DATABASE_ENV, fresh_postgresql_database


@pytest.fixture
def committed_app(app_config: dict[str, Any], tmp_path: Path) -> Iterator[Flask]:
    url = sa.engine.make_url(app_config["LICENSING_DATABASE_URL"])
    with ExitStack() as stack:
        if url.get_backend_name() == "sqlite":
            url = url.set(database=str(tmp_path / "erasure.sqlite3"))
        else:
            given = os.environ[TEST_DATABASE_ENV]
            made = stack.enter_context(fresh_postgresql_database(given, label="erasure_"))
            url = sa.engine.make_url(made)
        instance = tmp_path / "instance"
        app = create_app(
            app_config
            | {
                "LICENSING_DATABASE_URL": url.render_as_string(hide_password=False),
                "LICENSING_INSTANCE_PATH": str(instance),
            }
        )
        with app.app_context():
            flask_migrate.upgrade()
        try:
            yield app
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
