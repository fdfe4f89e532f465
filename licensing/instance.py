"""The instance folder: the embedded database, development keys and the metric files."""

from __future__ import annotations

import logging
import stat
from collections.abc import Callable
from pathlib import Path

from licensing.errors import ConfigError

log = logging.getLogger(__name__)

FIX = "set LICENSING_INSTANCE_PATH to a folder this user can write"

SIDES = ("", "-wal", "-shm")  # a SQLite database and its side files
# What the server writes in its instance folder (config.py, api/ratelimits.py, serve.py and
# the audit checkpoints name them): files, and folders whose contents they protect.
OWNED_FILES = (
    *(f"{db}{side}" for db in ("licensing.sqlite3", "rate-limits.sqlite3") for side in SIDES),
    "master.key",
    "master.key.previous",
    "secret.key",
)
OWNED_FOLDERS = ("prometheus", "checkpoints")
GROUP_AND_OTHERS = 0o077


def refuse_a_file(path: Path) -> None:
    """An instance path may be missing (it is created when needed), but not a file."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"the instance folder {path} is a file: {FIX}")


def instance_folder(path: Path) -> Path:
    """``path``, created if it is missing; one line naming the fix if it cannot hold files."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"the instance folder {path} is a file: {FIX}") from None
    except OSError as exc:
        raise ConfigError(
            f"the instance folder {path} cannot be created ({exc.strerror}): {FIX}"
        ) from None
    import tempfile  # only when a folder is written to

    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(
            f"the instance folder {path} is not writable ({exc.strerror}): {FIX}"
        ) from None
    return path


def owner_only(path: Path) -> None:
    """Take group and others' access away from the folder and what the server owns in it.

    The process umask makes what is created from now on owner-only; a folder an older
    version made under umask 022 keeps 0755 and 0644 files, and SQLite gives the -wal and
    -shm files it creates the database file's mode. So this runs before SQLite opens it.
    Only what this user owns, in a folder that holds the server's files (not a folder
    someone pointed LICENSING_INSTANCE_PATH at, such as /tmp); symbolic links are left
    alone (their target is not the server's to change).
    """
    # A file of the server's name that is a folder (or the reverse) is not the server's:
    # whatever reads it names the mistake.
    found = [path / name for name in OWNED_FILES if _is_mine(path / name, stat.S_ISREG)]
    found += [path / name for name in OWNED_FOLDERS if _is_mine(path / name, stat.S_ISDIR)]
    for target in [path, *found] if found else []:
        mode = _mode_of_mine(target)
        if mode is None or not mode & GROUP_AND_OTHERS:
            continue
        if mode & stat.S_ISVTX:  # a folder shared by design, as /tmp: only its files
            continue
        name = "." if target == path else target.name
        try:
            target.chmod(mode & ~GROUP_AND_OTHERS)
        except OSError as exc:
            log.warning("cannot make %s in the instance folder owner-only: %s", name, exc.strerror)
            continue
        log.warning("made %s in the instance folder owner-only (it was %o)", name, mode)


def _is_mine(path: Path, kind: Callable[[int], bool]) -> bool:
    try:
        return _mode_of_mine(path) is not None and kind(path.lstat().st_mode)
    except OSError:
        return False


def _mode_of_mine(path: Path) -> int | None:
    """The permission bits of ``path`` if it exists, is not a link and this user owns it."""
    import os

    try:
        status = path.lstat()
    except OSError:  # missing (or the folder is unusable: instance_folder says so)
        return None
    if stat.S_ISLNK(status.st_mode) or status.st_uid != os.geteuid():
        return None
    return stat.S_IMODE(status.st_mode)
