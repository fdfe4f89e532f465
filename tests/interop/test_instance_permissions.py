"""What the server writes in its instance folder is its owner's alone, whatever the umask.

``licensing demo`` then ``licensing serve`` run with a permissive umask (0o022, and
0o000) on an instance folder that does not exist yet; while the server runs (so SQLite's
-wal and -shm files and the workers' metric files exist), every directory under the
folder must be 0700 and every file 0600.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.live import live_server

EXPECTED = {
    "licensing.sqlite3",
    "licensing.sqlite3-wal",
    "licensing.sqlite3-shm",
    "master.key",
    "secret.key",
    "prometheus",
}


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """The mask the server's processes inherit."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def modes(folder: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = stat.S_IMODE(path.lstat().st_mode)
    return found


@pytest.mark.parametrize("mask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_the_instance_folder_is_owner_only(tmp_path: Path, mask: int) -> None:
    instance = tmp_path / "instance"  # created by the server, not by the test
    with (
        umask(mask),
        live_server(
            tmp_path,
            database_url=f"sqlite:///{instance / 'licensing.sqlite3'}",
            env={"LICENSING_INSTANCE_PATH": str(instance)},
        ) as server,
    ):
        for path in ("/healthz", "/metrics"):
            requests.get(server.base_url + path, timeout=10).raise_for_status()
        found = modes(instance)

    assert set(found) >= EXPECTED, sorted(found)
    assert any(name.startswith("prometheus/") for name in found), sorted(found)
    wrong = {
        name: oct(mode)
        for name, mode in found.items()
        if mode != (0o700 if (instance / name).is_dir() else 0o600)
    }
    assert not wrong, wrong
