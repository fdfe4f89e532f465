"""Engine set-up per backend, where the migrations live, and whether the schema is current."""

from __future__ import annotations

import sqlite3
from functools import cache
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.engine import Connection

from licensing.errors import ConfigError

VERSION_TABLE = "alembic_version"


@cache
def migrations_directory() -> Path:
    """``licensing/migrations`` in an installed wheel, ``<checkout>/migrations`` otherwise."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "migrations", package.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError("the migrations directory is missing from this installation")


@cache
def head_revisions() -> frozenset[str]:
    config = Config(str(migrations_directory() / "alembic.ini"))
    config.set_main_option("script_location", str(migrations_directory()))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def current_revisions(connection: Connection) -> frozenset[str]:
    """The revisions the database is at; read directly, as Alembic's context logs chatter."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return frozenset()
    query = text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608 - a constant name
    return frozenset(connection.execute(query).scalars())


def schema_is_current(connection: Connection) -> bool:
    return current_revisions(connection) == head_revisions()


def engine_options(database_url: str) -> dict[str, Any]:
    if database_url.startswith("sqlite"):
        # Parallel writers queue on the busy timeout instead of failing at once.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    _require_psycopg()
    return {"pool_size": 10, "max_overflow": 10, "pool_recycle": 1800}


def _require_psycopg() -> None:
    """The PostgreSQL driver is an extra: say which one when it is missing."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise ConfigError(
            "LICENSING_DATABASE_URL is a PostgreSQL URL but its driver (psycopg) is not"
            ' installed: pip install "licensing[postgres]"'
        ) from None


def configure_engine(engine: Engine) -> None:
    """SQLite: WAL, foreign keys, and write transactions that take the lock at BEGIN."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred transaction that reads and then writes cannot wait for the lock
        # (SQLite answers "database is locked" at once); IMMEDIATE queues at BEGIN.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
