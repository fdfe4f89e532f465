"""The master key (key-encryption key) as configured: the environment or, in development,
the key file in the instance folder, and the previous key while a rotation runs.

A lost key file is never replaced beside data sealed under it: a new key would seal new
data that it alone opens, and every keyed hash made before (partner key digests) would
stop matching. So a missing file is written only once the database (any backend) has
been asked and holds nothing sealed; otherwise the process stops, writing nothing.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from licensing.errors import ConfigError
from licensing.instance import instance_folder

log = logging.getLogger(__name__)

MASTER_KEY_FILE = "master.key"
PREVIOUS_MASTER_KEY_FILE = "master.key.previous"
MASTER_KEY_ENV = "LICENSING_MASTER_KEY"
PREVIOUS_MASTER_KEY_ENV = "LICENSING_MASTER_KEY_PREVIOUS"
# Tables whose rows exist only sealed or keyed under the master key.
SEALED_TABLES = ("server_keys", "licenses", "partner_keys", "hash_keys")


def decode_master_key(text: str, source: str = MASTER_KEY_ENV) -> bytes:
    """Decode a base64 (standard or URL-safe) key-encryption key of exactly 32 bytes.

    ``source`` (the variable or file the text came from) is what an error names.
    """
    cleaned = text.strip()
    padded = cleaned + "=" * (-len(cleaned) % 4)
    for altchars in (None, b"-_"):
        try:
            raw = base64.b64decode(padded, altchars=altchars, validate=True)
            break
        except (binascii.Error, ValueError):
            continue
    else:
        raise ConfigError(f"{source} is not valid base64")
    if len(raw) != 32:
        raise ConfigError(f"{source} must decode to 32 bytes, not {len(raw)}")
    return raw


def new_master_key() -> str:
    """A fresh key-encryption key, as ``LICENSING_MASTER_KEY`` expects it."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def lost_key_file(path: Path) -> ConfigError:
    return ConfigError(
        f"the master key file {path} is missing but the database holds data sealed "
        f"under it: restore the key file or set {MASTER_KEY_ENV}"
    )


def master_key(
    values: Mapping[str, Any], instance_path: Path, database_url: str
) -> tuple[bytes, str, bool]:
    """The key-encryption key, where it came from (the variable or the key file), and
    whether the key file was generated just now."""
    given = str(values.get(MASTER_KEY_ENV) or "")
    if given.strip():
        return decode_master_key(given), MASTER_KEY_ENV, False
    path = instance_path / MASTER_KEY_FILE
    text = _read_key_file(path)
    generated = text is None
    if text is None:
        if database_holds_sealed_data(database_url):
            raise lost_key_file(path)
        text = _create_key_file(path)
    return decode_master_key(text, str(path)), str(path), generated


def previous_master_key(
    values: Mapping[str, Any], instance_path: Path, master_key_source: str
) -> bytes | None:
    given = str(values.get(PREVIOUS_MASTER_KEY_ENV) or "")
    if given.strip():
        return decode_master_key(given, PREVIOUS_MASTER_KEY_ENV)
    if master_key_source == MASTER_KEY_ENV:
        return None
    # In development a rotation keeps the old key beside the new one until it completes.
    path = instance_path / PREVIOUS_MASTER_KEY_FILE
    text = _read_key_file(path)
    return None if text is None else decode_master_key(text, str(path))


def database_holds_sealed_data(database_url: str) -> bool:
    """Whether the database of ``database_url`` has rows in any sealed table.

    Its own short-lived connection, before the application is built: an SQLite file that
    does not exist yet is not created; an unreachable server fails as every command does.
    """
    if database_url.startswith("sqlite"):
        location = database_url.removeprefix("sqlite:///").split("?", 1)[0]
        if location in ("", ":memory:", "sqlite://") or not Path(location).is_file():
            return False
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.pool import NullPool

    from licensing.database import engine_options

    options = {k: v for k, v in engine_options(database_url).items() if "pool" not in k}
    options.pop("max_overflow", None)
    engine = create_engine(database_url, poolclass=NullPool, **options)
    try:
        with engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
            return any(
                connection.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None  # noqa: S608
                for table in SEALED_TABLES
                if table in present
            )
    finally:
        engine.dispose()


def replace_key_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (mode 0600) so that a reader sees the old or the new key,
    never a partial one: a temporary file beside it, flushed, then renamed over it."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _read_key_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        instance_folder(path.parent)  # a path under a file: the folder check names the fix
        return None
    except IsADirectoryError:
        raise ConfigError(
            f"{path} is a folder, not a key file: move it out of the instance folder"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the master key file {path} cannot be read: {exc}") from None


def _create_key_file(path: Path) -> str:
    """A new key in ``path`` (0600), or the key another process put there first."""
    instance_folder(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text(encoding="ascii").strip()
    text = new_master_key()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text + "\n")
    log.warning(
        "generated development secret %s in the instance folder; "
        "set it in the environment for production",
        path.name,
    )
    return text
