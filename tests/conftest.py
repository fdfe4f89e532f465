"""Fixtures: one migrated database per session, one rolled-back transaction per test.

The backend is SQLite (a file in a temporary folder) unless
``LICENSING_TEST_DATABASE_URL`` names a PostgreSQL database; then a fresh database is
created next to it for this session and dropped at the end, so runs never collide.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import Any

import flask_migrate
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy.orm import Session

from licensing import create_app
from licensing.api.ratelimits import limiter
from licensing.crypto.sealing import Sealer
from licensing.extensions import db
from licensing.runtime import EXTENSION_KEY
from tests.databases import TEST_DATABASE_ENV, fresh_postgresql_database

MASTER_KEY = base64.b64encode(bytes(range(32))).decode("ascii")
SECRET_KEY = "test-secret-key-that-is-long-enough-for-sessions"
ACTOR = "test:pytest"


class BoundSession(FlaskSession):
    """Flask-SQLAlchemy's session, but honouring an explicit ``bind`` (the test connection).

    Flask-SQLAlchemy 3.1 resolves the default engine before looking at ``Session.bind``,
    so without this the test's session would open a second connection outside the
    test transaction (and, on SQLite, wait for the write lock the first one holds).
    """

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None, **kw: Any) -> Any:
        return bind if bind is not None else self.bind


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get(TEST_DATABASE_ENV, "").strip()
    if not given:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'licensing.sqlite3'}"
        return
    with fresh_postgresql_database(given) as url:
        yield url


@pytest.fixture(scope="session")
def app_config(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What ``create_app`` is given in tests; also for tests that build their own app."""
    return {
        "LICENSING_DATABASE_URL": database_url,
        "LICENSING_MASTER_KEY": MASTER_KEY,
        "LICENSING_SECRET_KEY": SECRET_KEY,
        "LICENSING_INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        "LICENSING_LOG_JSON": "false",
        # Process-wide caches would carry rows of a rolled-back test into the next one.
        "LICENSING_CACHE_TTL": "0",
        # The invalid-signature tally is flushed by the tests that look at it, never
        # by a timer writing outside the test's transaction.
        "LICENSING_SIGNATURE_FAILURE_FLUSH": "0",
        # The suite stays at its own priority when it runs a scan in-process.
        "LICENSING_MISUSE_SCAN_NICE": "0",
        # The test client speaks plain HTTP, where a Secure cookie would not be sent back.
        "LICENSING_CONSOLE_SECURE_COOKIE": "false",
        "TESTING": True,
    }


@pytest.fixture(scope="session")
def migrated_app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """The session's application, its schema built by the migrations (never create_all)."""
    app = create_app(app_config)
    with app.app_context():
        flask_migrate.upgrade()
    # Flask-Limiter keeps one storage per process, re-pointed by every app built; tests
    # that build their own app (say with a Redis URL) must not leave theirs to the rest.
    app.extensions["licensing.test_rate_storage"] = (limiter._storage, limiter._limiter)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(migrated_app: Flask) -> Iterator[Flask]:
    """The application, inside a transaction that is rolled back after the test.

    Application code commits through ``db.session``, which only releases a savepoint.
    The app context stays pushed for the whole test, so the test's ``session``, the
    services it calls and the requests it makes all share one session.
    """
    with migrated_app.app_context():
        # Rate-limit counters live outside the test's transaction (as in production,
        # their own connection): each test starts with none.
        limiter._storage, limiter._limiter = migrated_app.extensions["licensing.test_rate_storage"]
        limiter.reset()
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
                "class_": BoundSession,
            }
        )
        try:
            yield migrated_app
        finally:
            db.session.remove()
            db.session = original
            if outer.is_active:
                outer.rollback()
            connection.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def session(app: Flask) -> Session:
    return db.session()


@pytest.fixture
def sealer(app: Flask) -> Sealer:
    sealer: Sealer = app.extensions[EXTENSION_KEY].sealer
    return sealer


@pytest.fixture
def actor() -> str:
    return ACTOR
