"""The state directory: atomic writes, mode 0600, a fingerprint derived once."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from fakeserver import Harness
from licensing_client import StateError
from licensing_client.state import StateStore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_write_is_atomic_fsynced_and_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StateStore(tmp_path / "state")
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    replaced: list[tuple[str, str]] = []
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        assert Path(src).parent == Path(dst).parent, "the temporary file is in the same directory"
        assert Path(src).read_text() == "new\n", "the content is complete before the rename"
        assert _mode(Path(src)) == 0o600
        replaced.append((str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    store.write_text("lease.jwt", "new\n")
    assert (tmp_path / "state" / "lease.jwt").read_text() == "new\n"
    assert _mode(tmp_path / "state" / "lease.jwt") == 0o600
    assert len(replaced) == 1
    assert len(synced) == 2  # the file, then the directory
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["lease.jwt"]


def test_a_failed_write_leaves_the_old_file_and_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StateStore(tmp_path)
    store.write_text("activation.json", "old\n")

    def crash(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.write_text("activation.json", "new\n")
    assert (tmp_path / "activation.json").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["activation.json"]


def test_the_directory_is_created_private(tmp_path: Path) -> None:
    StateStore(tmp_path / "a" / "b")
    assert _mode(tmp_path / "a" / "b") == 0o700


def test_the_fingerprint_is_derived_once_and_kept(tmp_path: Path) -> None:
    first = StateStore(tmp_path).fingerprint()
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert StateStore(tmp_path).fingerprint() == first
    assert _mode(tmp_path / "fingerprint") == 0o600


def test_an_existing_fingerprint_wins_a_race(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    (tmp_path / "fingerprint").write_text("someone-else-wrote-this-first\n")
    assert (
        store.create_once("fingerprint", "mine-mine-mine-mine\n")
        == "someone-else-wrote-this-first\n"
    )
    assert store.fingerprint() == "someone-else-wrote-this-first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fingerprint"]


def test_a_damaged_fingerprint_is_an_error_not_a_new_identity(tmp_path: Path) -> None:
    (tmp_path / "fingerprint").write_text("short\n")
    with pytest.raises(StateError, match="fingerprint"):
        StateStore(tmp_path).fingerprint()
    assert (tmp_path / "fingerprint").read_text() == "short\n"


def test_a_given_fingerprint_is_used_and_not_stored(harness: Harness) -> None:
    client = harness.make_client(fingerprint="host-7f3a9c1e2b4d6f80")
    assert client.fingerprint == "host-7f3a9c1e2b4d6f80"
    assert (harness.state_dir / "fingerprint").read_text().strip() == harness.client.fingerprint
    assert harness.client.fingerprint != client.fingerprint


def test_activation_state_files(harness: Harness) -> None:
    harness.activate()
    names = sorted(p.name for p in harness.state_dir.iterdir())
    assert names == ["activation.json", "fingerprint", "lease.jwt"]
    for name in names:
        assert _mode(harness.state_dir / name) == 0o600
    stored = harness.client.state.load_activation()
    assert stored is not None
    assert stored.activation_id == Harness.ACTIVATION_ID
    assert stored.key_id == "_2VeT-FaaH_RjrT-cXOo1w"
    assert harness.client.activation_id == Harness.ACTIVATION_ID
    # The key itself is never written.
    for path in harness.state_dir.iterdir():
        assert "6E86N" not in path.read_text().upper()
