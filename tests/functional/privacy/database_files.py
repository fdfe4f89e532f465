"""The bytes of a database's files, to look for values that should be gone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, text


def database_files(engine: Engine) -> list[Path]:
    """SQLite: the file and its WAL. PostgreSQL: every file of the database's folder,
    after a checkpoint has written what shared buffers held."""
    if engine.dialect.name == "sqlite":
        main = Path(str(engine.url.database))
        return [p for p in (main, Path(f"{main}-wal")) if p.exists()]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("CHECKPOINT")
        data = connection.execute(text("SHOW data_directory")).scalar_one()
        oid = connection.execute(
            text("SELECT oid FROM pg_database WHERE datname = current_database()")
        ).scalar_one()
    folder = Path(data) / "base" / str(oid)
    if not os.access(folder, os.R_OK | os.X_OK):
        pytest.skip(f"the PostgreSQL data files ({folder}) are not readable by this user")
    return sorted(p for p in folder.iterdir() if p.is_file())


def found_in(files: list[Path], values: list[str]) -> dict[str, list[str]]:
    """For each value, the files whose bytes hold it (UTF-8)."""
    blobs = {p.name: p.read_bytes() for p in files}
    return {v: [name for name, blob in blobs.items() if v.encode() in blob] for v in values}
