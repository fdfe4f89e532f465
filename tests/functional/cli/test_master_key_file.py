"""The master key against the data it sealed, through the installed ``licensing`` command.

A lost development key file is never silently replaced, a wrong key is refused before
it seals anything, and ``keys rotate-master`` swaps the key file for a new one. Each
test seeds its own instance folder with ``licensing demo`` (SQLite, never the test DB).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from licensing.config import new_master_key
from licensing.crypto.sealing import SealBroken, Sealer, master_key_id
from tests.databases import TEST_DATABASE_ENV, fresh_postgresql_database
from tests.functional.cli.test_errors import (
    DATABASE_FILE,
    describe,
    licensing_command,
    run,
    without_traceback,
)
from tests.live import free_port

KEY_FILE = "master.key"
PREVIOUS_FILE = "master.key.previous"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("seeded")
    completed = without_traceback(run(folder, "demo", "--json"))
    assert completed.returncode == 0, describe(completed)
    return folder


@pytest.fixture
def instance(seeded: Path, tmp_path: Path) -> Path:
    """A copy of the seeded instance folder (its database and key files) of its own."""
    copy = tmp_path / "instance"
    shutil.copytree(seeded, copy)
    return copy


def one_error_line(completed: subprocess.CompletedProcess[str]) -> str:
    without_traceback(completed)
    assert completed.returncode == 1, describe(completed)
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, describe(completed)
    assert lines[0].startswith("error: "), describe(completed)
    return lines[0]


def key_in(path: Path) -> bytes:
    return base64.b64decode(path.read_text(encoding="ascii"))


def sealed_rows(instance: Path) -> list[tuple[str, str, bytes]]:
    with sqlite3.connect(instance / DATABASE_FILE) as connection:
        rows = [
            ("server_keys", kid, sealed)
            for kid, sealed in connection.execute("SELECT kid, sealed_private_key FROM server_keys")
        ]
        for hex_id, sealed in connection.execute("SELECT id, sealed_key FROM licenses"):
            rows.append(("licenses", str(_uuid(hex_id)), sealed))
        rows += [
            ("hash_keys", purpose, sealed)
            for purpose, sealed in connection.execute("SELECT purpose, sealed_key FROM hash_keys")
        ]
    return rows


def _uuid(stored: str) -> object:
    import uuid

    return uuid.UUID(stored)


def test_a_lost_key_file_is_refused_not_regenerated(instance: Path) -> None:
    (instance / KEY_FILE).unlink()

    line = one_error_line(run(instance, "product", "list"))

    assert str(instance / KEY_FILE) in line
    assert "restore the key file or set LICENSING_MASTER_KEY" in line
    assert not (instance / KEY_FILE).exists()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The environment naming a database of the test's own, on either backend."""
    if request.param == "sqlite":
        yield {}
        return
    given = os.environ.get(TEST_DATABASE_ENV, "").strip()
    if not given.startswith("postgresql"):
        pytest.skip(f"{TEST_DATABASE_ENV} names no PostgreSQL database")
    with fresh_postgresql_database(given, label="keyfile") as url:
        yield {"LICENSING_DATABASE_URL": url}


def test_no_command_leaves_a_new_key_file_beside_sealed_data(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    for command in (("db", "upgrade"), ("demo", "--json")):
        seeded = without_traceback(run(tmp_path, *command, env=database_env))
        assert seeded.returncode == 0, describe(seeded)
    (tmp_path / KEY_FILE).unlink()

    # The db group prepares no database, yet it must not generate a key beside the data.
    line = one_error_line(run(tmp_path, "db", "current", env=database_env))

    assert line == (
        f"error: the master key file {tmp_path / KEY_FILE} is missing but the database "
        "holds data sealed under it: restore the key file or set LICENSING_MASTER_KEY"
    )
    assert not (tmp_path / KEY_FILE).exists()


def test_a_bad_key_file_is_named_not_the_variable(instance: Path) -> None:
    (instance / KEY_FILE).write_text("not base64!\n", encoding="ascii")

    line = one_error_line(run(instance, "product", "list"))

    assert line == f"error: {instance / KEY_FILE} is not valid base64"


def test_a_master_key_that_opens_nothing_is_refused(instance: Path) -> None:
    other = {"LICENSING_MASTER_KEY": new_master_key()}

    line = one_error_line(run(instance, "license", "list", env=other))

    assert "does not open the server signing key" in line
    assert "LICENSING_MASTER_KEY" in line


def test_serve_refuses_to_start_with_a_master_key_that_opens_nothing(instance: Path) -> None:
    environment = {"LICENSING_MASTER_KEY": new_master_key()}
    # Bounded: a server that did start would be stopped by the timeout (and fail the test).
    try:
        completed = run_bounded(instance, environment, "serve", "--port", str(free_port()))
    except subprocess.TimeoutExpired:
        pytest.fail("licensing serve started with a master key that opens nothing")

    line = one_error_line(completed)
    assert "does not open the server signing key" in line
    assert "serving on" not in completed.stderr


def run_bounded(
    instance: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
    environment |= {"LICENSING_INSTANCE_PATH": str(instance), "LICENSING_LOG_JSON": "false"}
    return subprocess.run(
        [licensing_command(), *args],
        env=environment | env,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


def test_rotate_master_replaces_the_key_file_and_the_old_key_opens_nothing(
    instance: Path,
) -> None:
    old = key_in(instance / KEY_FILE)

    completed = without_traceback(run(instance, "keys", "rotate-master", "--json"))

    assert completed.returncode == 0, describe(completed)
    done = json.loads(completed.stdout)
    new = key_in(instance / KEY_FILE)
    assert new != old
    assert done["master_key_id"] == master_key_id(new)
    assert done["previous_key_id"] == master_key_id(old)
    assert done["remaining"] == 0
    assert not (instance / PREVIOUS_FILE).exists()
    assert (instance / KEY_FILE).stat().st_mode & 0o777 == 0o600
    for table, row_id, sealed in sealed_rows(instance):
        Sealer(new).open(sealed, table=table, row_id=row_id)
        with pytest.raises(SealBroken):
            Sealer(old).open(sealed, table=table, row_id=row_id)
    listed = without_traceback(run(instance, "license", "list", "--json"))
    assert listed.returncode == 0, describe(listed)


def test_a_development_rotation_stopped_after_the_key_swap_is_finished_by_a_rerun(
    instance: Path,
) -> None:
    # What a crash right after the key files were swapped leaves behind.
    old_text = (instance / KEY_FILE).read_text(encoding="ascii")
    (instance / PREVIOUS_FILE).write_text(old_text, encoding="ascii")
    (instance / KEY_FILE).write_text(new_master_key() + "\n", encoding="ascii")
    new = key_in(instance / KEY_FILE)

    # Meanwhile both keys open the data ...
    listed = without_traceback(run(instance, "license", "list"))
    assert listed.returncode == 0, describe(listed)
    # ... and the rerun re-seals under the key already in the file.
    completed = without_traceback(run(instance, "keys", "rotate-master", "--json"))

    assert completed.returncode == 0, describe(completed)
    assert json.loads(completed.stdout)["master_key_id"] == master_key_id(new)
    assert key_in(instance / KEY_FILE) == new
    assert not (instance / PREVIOUS_FILE).exists()
    assert all(Sealer(new).is_current(sealed) for _, _, sealed in sealed_rows(instance))
