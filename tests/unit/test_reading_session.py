"""``database.reading_session``: on SQLite, reads that hold no write lock; elsewhere the
session itself."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from licensing.database import configure_engine, engine_options, reading_session


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'reads.sqlite3'}"
    engine = create_engine(url, **engine_options(url))
    configure_engine(engine)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE seen (n INTEGER)"))
    yield engine
    engine.dispose()


def _write_at_once(engine: Engine) -> None:
    """A write on another connection that waits for no lock (raises if one is held)."""
    path = engine.url.database
    assert path is not None
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO seen VALUES (1)")
        connection.execute("COMMIT")
    finally:
        connection.close()


def test_a_read_on_the_reading_session_lets_a_writer_in(engine: Engine) -> None:
    session = Session(bind=engine)
    with reading_session(session) as reader:
        assert reader is not session
        assert reader.scalar(text("SELECT count(*) FROM seen")) == 0  # a read transaction
        _write_at_once(engine)
        assert reader.scalar(text("SELECT count(*) FROM seen")) == 0  # its snapshot
        reader.rollback()
        assert reader.scalar(text("SELECT count(*) FROM seen")) == 1  # the next one sees it
    session.close()


def test_a_read_on_the_session_itself_holds_the_write_lock(engine: Engine) -> None:
    session = Session(bind=engine)
    session.scalar(text("SELECT count(*) FROM seen"))
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        _write_at_once(engine)
    session.close()


def test_a_session_in_its_callers_transaction_reads_on_itself(engine: Engine) -> None:
    with engine.connect() as connection:
        session = Session(bind=connection)
        with reading_session(session) as reader:
            assert reader is session
        session.close()
