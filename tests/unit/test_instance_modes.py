"""An instance folder made by an older version under umask 022 becomes owner-only.

The umask covers only what is created from now on; SQLite gives the -wal and -shm files
it creates the database file's mode, so the modes are tightened before it opens it.
"""

from __future__ import annotations

import logging
import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from licensing import create_app
from licensing.extensions import db
from licensing.instance import owner_only


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def older_instance(folder: Path) -> None:
    """What an older version left: a 0755 folder, 0644 files, a WAL database."""
    create_app({"LICENSING_INSTANCE_PATH": str(folder)}, serves_http=False)  # the keys
    connection = sqlite3.connect(folder / "licensing.sqlite3")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE probe (x)")
    connection.close()
    (folder / "rate-limits.sqlite3").touch()
    (folder / "master.key.previous").write_bytes((folder / "master.key").read_bytes())
    for name in ("prometheus", "checkpoints"):
        (folder / name).mkdir()
    for path in folder.iterdir():
        path.chmod(0o755 if path.is_dir() else 0o644)
    folder.chmod(0o755)


def test_an_older_instance_folder_is_made_owner_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "instance"
    older_instance(folder)
    assert mode(folder / "licensing.sqlite3") == 0o644
    caplog.set_level(logging.WARNING, logger="licensing.instance")

    app = create_app({"LICENSING_INSTANCE_PATH": str(folder)}, serves_http=False)
    with app.app_context(), db.engine.connect() as connection:
        connection.execute(text("INSERT INTO probe VALUES (1)"))
        connection.commit()
        wal, shm = folder / "licensing.sqlite3-wal", folder / "licensing.sqlite3-shm"
        assert (mode(wal), mode(shm)) == (0o600, 0o600)  # SQLite copied a 0600 file's mode

    assert mode(folder) == 0o700
    for name in ("prometheus", "checkpoints"):
        assert mode(folder / name) == 0o700, name
    for name in (
        "licensing.sqlite3",
        "rate-limits.sqlite3",
        "master.key",
        "secret.key",
        "master.key.previous",
    ):
        assert mode(folder / name) == 0o600, name
    tightened = [r.getMessage() for r in caplog.records if r.name == "licensing.instance"]
    assert "made master.key in the instance folder owner-only (it was 644)" in tightened
    assert "made . in the instance folder owner-only (it was 755)" in tightened


def test_owner_only_modes_are_left_alone_and_not_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    create_app({"LICENSING_INSTANCE_PATH": str(tmp_path)}, serves_http=False)
    (tmp_path / "master.key").chmod(0o400)
    caplog.set_level(logging.WARNING, logger="licensing.instance")

    create_app({"LICENSING_INSTANCE_PATH": str(tmp_path)}, serves_http=False)

    assert mode(tmp_path / "master.key") == 0o400
    assert [r for r in caplog.records if r.name == "licensing.instance"] == []


def test_a_folder_without_the_servers_files_is_left_alone(tmp_path: Path) -> None:
    """LICENSING_INSTANCE_PATH may name a folder that is not the server's (as /tmp)."""
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "notes.txt").touch()
    folder.chmod(0o755)
    (folder / "notes.txt").chmod(0o644)

    owner_only(folder)

    assert (mode(folder), mode(folder / "notes.txt")) == (0o755, 0o644)
