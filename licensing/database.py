"""Engine set-up per backend, where the migrations live, and whether the schema is current."""

from __future__ import annotations

import ast
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from licensing.errors import ConfigError

VERSION_TABLE = "alembic_version"
# An execution option: the connection's transactions only read (SQLite: a deferred BEGIN).
READS_ONLY = "licensing_reads_only"


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
    """The revisions no other revision builds on.

    Read from the revision files' ``revision`` and ``down_revision`` literals, not
    through Alembic: every command asks this, and importing Alembic costs a fifth of
    a command's start-up (tests/unit/test_database.py checks the answer is Alembic's).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (migrations_directory() / "versions").glob("*.py"):
        values = _revision_literals(path)
        if isinstance(values.get("revision"), str):
            revisions.add(values["revision"])
            down = values.get("down_revision")
            parents.update([down] if isinstance(down, str) else (down or ()))
    return frozenset(revisions - parents)


@cache
def revisions_since(revision: str) -> frozenset[str]:
    """``revision`` and every revision that builds on it, up to the heads."""
    parents: dict[str, tuple[str, ...]] = {}
    for path in (migrations_directory() / "versions").glob("*.py"):
        values = _revision_literals(path)
        if isinstance(values.get("revision"), str):
            down = values.get("down_revision")
            parents[values["revision"]] = (down,) if isinstance(down, str) else tuple(down or ())
    if revision not in parents:
        raise RuntimeError(f"no migration has revision {revision!r}")
    since = {revision}
    grew = True
    while grew:
        later = {child for child, ups in parents.items() if since.intersection(ups)}
        grew = not later <= since
        since |= later
    return frozenset(since)


def _revision_literals(path: Path) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            values[target.id] = ast.literal_eval(value)
    return values


def current_revisions(connection: Connection) -> frozenset[str]:
    """The revisions the database is at; read directly, as Alembic's context logs chatter."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return frozenset()
    query = text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608 - a constant name
    return frozenset(connection.execute(query).scalars())


def schema_is_current(connection: Connection) -> bool:
    return current_revisions(connection) == head_revisions()


def schema_is_at_least(connection: Connection, revision: str) -> bool:
    """Whether the database is at ``revision`` or a later one."""
    current = current_revisions(connection)
    return bool(current) and current <= revisions_since(revision)


def engine_options(database_url: str) -> dict[str, Any]:
    # Statement parameters are customers' data (server names, addresses, e-mails): an
    # error's text, and so any traceback logged, shows the SQL without them.
    if database_url.startswith("sqlite"):
        # Parallel writers queue on the busy timeout instead of failing at once.
        return {
            "connect_args": {"timeout": 30, "check_same_thread": False},
            "hide_parameters": True,
        }
    _require_psycopg()
    return {"pool_size": 10, "max_overflow": 10, "pool_recycle": 1800, "hide_parameters": True}


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
    """SQLite: WAL, foreign keys, and write transactions that take the lock at BEGIN;
    connections marked ``READS_ONLY`` begin deferred and never take it."""
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
        if connection.get_execution_options().get(READS_ONLY):
            # Under WAL a reader sees its snapshot beside the one writer and makes none wait.
            connection.exec_driver_sql("BEGIN")
            return
        # A deferred transaction that reads and then writes cannot wait for the lock
        # (SQLite answers "database is locked" at once); IMMEDIATE queues at BEGIN.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def reading_session(session: Session) -> Iterator[Session]:
    """A session for long reads beside ``session``'s writes that holds no write lock.

    SQLite begins every transaction of ``session`` with the write lock (see above), so
    reads that take seconds (the misuse scan's histories, a backtest) go through a
    session of their own whose transactions are deferred: check-ins keep writing while
    they run. Its caller ends each read transaction (``rollback``) before ``session``
    writes, so each read sees what was committed last. PostgreSQL readers take no lock
    writers wait for, and a session bound to a connection lives in its caller's
    transaction (which another connection would not see): both read on ``session``.
    """
    bind = session.get_bind()
    if bind.dialect.name != "sqlite" or isinstance(bind, Connection):
        yield session
        return
    reader = Session(bind=bind.execution_options(**{READS_ONLY: True}))
    try:
        yield reader
    finally:
        reader.close()
