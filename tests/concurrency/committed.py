"""An application on a fresh PostgreSQL database whose writes are really committed: what
the tests of real parallel connections share (each migrates a database of its own)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import flask_migrate
from flask import Flask

from licensing import create_app
from licensing.extensions import db
from tests.databases import TEST_DATABASE_ENV, fresh_postgresql_database


@contextmanager
def committed_postgresql_app(
    app_config: dict[str, Any], instance_path: Path, *, label: str
) -> Iterator[Flask]:
    """The application on a new, migrated database named after ``label``; dropped after."""
    server = os.environ[TEST_DATABASE_ENV].strip()
    with fresh_postgresql_database(server, label=label) as url:
        app = create_app(
            {
                **app_config,
                "LICENSING_DATABASE_URL": url,
                "LICENSING_INSTANCE_PATH": str(instance_path),
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
