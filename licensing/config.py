"""Settings from ``LICENSING_*`` environment variables, validated once at start-up.

Every setting has one name, the environment variable's; ``create_app(config)`` accepts
the same names so that tests and operators speak one vocabulary.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from licensing.errors import ConfigError
from licensing.instance import FIX as INSTANCE_FIX
from licensing.instance import instance_folder

log = logging.getLogger(__name__)

ENVIRONMENTS = ("development", "production")
MASTER_KEY_FILE = "master.key"
PREVIOUS_MASTER_KEY_FILE = "master.key.previous"
MASTER_KEY_ENV = "LICENSING_MASTER_KEY"
PREVIOUS_MASTER_KEY_ENV = "LICENSING_MASTER_KEY_PREVIOUS"
SECRET_KEY_FILE = "secret.key"  # noqa: S105 - a file name, not a secret
DEVELOPMENT_ISSUER = "licensing-development"


@dataclass(frozen=True, slots=True)
class Settings:
    """The validated configuration of one server process."""

    env: str
    database_url: str
    master_key: bytes
    secret_key: str
    issuer: str
    redis_url: str | None
    clock_skew: int
    replay_window: int
    trusted_proxy_hops: int
    cache_ttl: float
    partner_rate_limit: str
    log_level: str
    log_json: bool
    audit_checkpoint_dir: Path
    # The old key-encryption key while a rotation re-seals under ``master_key``.
    master_key_previous: bytes | None
    # Where ``master_key`` came from: the environment variable's name or the key file.
    master_key_source: str
    # True when this process generated the development key file (it did not exist).
    master_key_generated: bool
    partner_auth_failure_limit: str = "10/minute"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")


# name, default (None: required in production / generated in development), help
SETTINGS_HELP: tuple[tuple[str, str, str], ...] = (
    ("LICENSING_ENV", "development", "`development` or `production` (refuses dev defaults)"),
    (
        "LICENSING_DATABASE_URL",
        "sqlite:///<instance>/licensing.sqlite3",
        "SQLAlchemy URL; PostgreSQL as `postgresql+psycopg://user@host/db`",
    ),
    (
        "LICENSING_MASTER_KEY",
        "generated into <instance>/master.key (development only)",
        "key-encryption key: base64 of 32 random bytes",
    ),
    (
        "LICENSING_SECRET_KEY",
        "generated into <instance>/secret.key (development only)",
        "signs staff console sessions",
    ),
    ("LICENSING_ISSUER", DEVELOPMENT_ISSUER, "`iss` of leases; required in production"),
    ("LICENSING_REDIS_URL", "(unset)", "shared replay store and rate limits across hosts"),
    ("LICENSING_CLOCK_SKEW", "300", "seconds a signed request's `created` may differ"),
    ("LICENSING_REPLAY_WINDOW", "600", "seconds a nonce is remembered (≥ 2 × clock skew)"),
    ("LICENSING_TRUSTED_PROXY_HOPS", "0", "proxies whose X-Forwarded-For is believed"),
    ("LICENSING_CACHE_TTL", "5", "seconds hot-path caches keep a license"),
    ("LICENSING_PARTNER_RATE_LIMIT", "60/minute", "default requests per partner API key"),
    ("LICENSING_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR"),
    ("LICENSING_LOG_JSON", "true", "one JSON object per log line (false: plain text)"),
    (
        "LICENSING_AUDIT_CHECKPOINT_DIR",
        "<instance>/checkpoints",
        "where the audit-checkpoint job writes signed heads of the audit chain",
    ),
    (
        "LICENSING_MASTER_KEY_PREVIOUS",
        "(unset; <instance>/master.key.previous in development)",
        "the old key-encryption key while `licensing keys rotate-master` re-seals",
    ),
    (
        "LICENSING_PARTNER_AUTH_FAILURE_LIMIT",
        "10/minute",
        "failed partner authentications per client address before every request from it "
        "is refused (429) until the window ends",
    ),
)


def load_settings(values: Mapping[str, Any], instance_path: Path) -> Settings:
    """Validate ``values`` (environment merged with overrides) into :class:`Settings`."""
    env = _choice(values, "LICENSING_ENV", "development", ENVIRONMENTS)
    production = env == "production"
    problems: list[str] = []
    if production:
        for name in ("LICENSING_MASTER_KEY", "LICENSING_SECRET_KEY", "LICENSING_ISSUER"):
            if not str(values.get(name) or "").strip():
                problems.append(f"{name} must be set in production")
    if problems:
        raise ConfigError("; ".join(problems))

    database_url = str(values.get("LICENSING_DATABASE_URL") or "").strip()
    if not database_url:
        database_url = f"sqlite:///{instance_path / 'licensing.sqlite3'}"
    elif database_url.startswith("postgresql://"):
        # SQLAlchemy's default driver is psycopg2 before 2.1: use the one the extra installs.
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    elif not database_url.startswith(("sqlite:", "postgresql+psycopg:")):
        # Another driver (postgresql+psycopg2://) is not a dependency: name the one that is.
        raise ConfigError(
            "LICENSING_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL"
        )
    clock_skew = _integer(values, "LICENSING_CLOCK_SKEW", 300, minimum=1)
    replay_window = _integer(values, "LICENSING_REPLAY_WINDOW", 600, minimum=2)
    if replay_window < 2 * clock_skew:
        raise ConfigError(
            f"LICENSING_REPLAY_WINDOW ({replay_window}) must be at least twice "
            f"LICENSING_CLOCK_SKEW ({clock_skew}), or a stale-but-fresh nonce could be replayed"
        )
    log_level = str(values.get("LICENSING_LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("LICENSING_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
    master_key, master_key_source, generated = _master_key(values, instance_path, database_url)
    return Settings(
        env=env,
        database_url=database_url,
        master_key=master_key,
        secret_key=_secret_key(values, instance_path),
        issuer=str(values.get("LICENSING_ISSUER") or DEVELOPMENT_ISSUER),
        redis_url=str(values.get("LICENSING_REDIS_URL") or "").strip() or None,
        clock_skew=clock_skew,
        replay_window=replay_window,
        trusted_proxy_hops=_integer(values, "LICENSING_TRUSTED_PROXY_HOPS", 0, minimum=0),
        cache_ttl=float(_integer(values, "LICENSING_CACHE_TTL", 5, minimum=0)),
        partner_rate_limit=_rate_limit(values, "LICENSING_PARTNER_RATE_LIMIT", "60/minute"),
        log_level=log_level,
        log_json=_boolean(values, "LICENSING_LOG_JSON", True),
        audit_checkpoint_dir=_directory(
            values, "LICENSING_AUDIT_CHECKPOINT_DIR", instance_path / "checkpoints"
        ),
        master_key_previous=_previous_master_key(values, instance_path, master_key_source),
        master_key_source=master_key_source,
        master_key_generated=generated,
        partner_auth_failure_limit=_rate_limit(
            values, "LICENSING_PARTNER_AUTH_FAILURE_LIMIT", "10/minute"
        ),
    )


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


def _master_key(
    values: Mapping[str, Any], instance_path: Path, database_url: str
) -> tuple[bytes, str, bool]:
    """The key-encryption key, where it came from (the variable or the key file), and
    whether the key file was generated just now.

    A new key would seal new data beside data that the lost key alone opens: an embedded
    database is looked at here; any other is checked when a command first uses it.
    """
    given = str(values.get(MASTER_KEY_ENV) or "")
    if given.strip():
        return decode_master_key(given), MASTER_KEY_ENV, False
    path = instance_path / MASTER_KEY_FILE
    existed = path.exists()
    if not existed and _embedded_database_holds_sealed_data(database_url):
        raise lost_key_file(path)
    key = decode_master_key(_development_secret(path, new_master_key), str(path))
    return key, str(path), not existed


def _previous_master_key(
    values: Mapping[str, Any], instance_path: Path, master_key_source: str
) -> bytes | None:
    given = str(values.get(PREVIOUS_MASTER_KEY_ENV) or "")
    if given.strip():
        return decode_master_key(given, PREVIOUS_MASTER_KEY_ENV)
    if master_key_source == MASTER_KEY_ENV:
        return None
    # In development a rotation keeps the old key beside the new one until it completes.
    path = instance_path / PREVIOUS_MASTER_KEY_FILE
    try:
        return decode_master_key(path.read_text(encoding="ascii"), str(path))
    except FileNotFoundError:
        return None


def _embedded_database_holds_sealed_data(database_url: str) -> bool:
    """Whether the SQLite file of ``database_url`` exists and has sealed rows.

    Read-only and without SQLAlchemy: this runs before the application is built.
    """
    import sqlite3

    if not database_url.startswith("sqlite:///") or database_url == "sqlite:///:memory:":
        return False
    path = Path(database_url.removeprefix("sqlite:///").split("?", 1)[0])
    if not path.is_file():
        return False
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return False
    try:
        # Partner keys are keyed digests: a new key would make every one fail to match.
        return any(
            _has_rows(connection, table) for table in ("server_keys", "licenses", "partner_keys")
        )
    finally:
        connection.close()


def _secret_key(values: Mapping[str, Any], instance_path: Path) -> str:
    given = str(values.get("LICENSING_SECRET_KEY") or "").strip()
    if given:
        if len(given) < 32:
            raise ConfigError("LICENSING_SECRET_KEY must be at least 32 characters")
        return given
    return _development_secret(instance_path / SECRET_KEY_FILE, lambda: secrets.token_urlsafe(48))


def _development_secret(path: Path, make: Any) -> str:
    """Read a development secret, creating it once with mode 0600."""
    try:
        return path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, NotADirectoryError):
        pass  # missing, or the folder cannot be: instance_folder names the fix
    except IsADirectoryError:
        raise ConfigError(
            f"{path} is a folder, not a key file: move it out of the instance folder"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror}): {INSTANCE_FIX}") from None
    instance_folder(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(make() + "\n")
    log.warning(
        "generated development secret %s in the instance folder; "
        "set it in the environment for production",
        path.name,
    )
    return path.read_text(encoding="ascii").strip()


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


def _has_rows(connection: Any, table: str) -> bool:
    import sqlite3

    try:
        return connection.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None  # noqa: S608
    except sqlite3.Error:  # no such table yet: nothing sealed in it
        return False


def _choice(values: Mapping[str, Any], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = str(values.get(name) or default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _integer(values: Mapping[str, Any], name: str, default: int, *, minimum: int) -> int:
    raw = values.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        number = int(str(raw).strip())
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from exc
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {number}")
    return number


def _rate_limit(values: Mapping[str, Any], name: str, default: str) -> str:
    from limits import parse

    text = str(values.get(name) or default).strip()
    try:
        parse(text)
    except ValueError:
        raise ConfigError(f"{name} must be a rate limit such as 120/minute, not {text!r}") from None
    return text


def _boolean(values: Mapping[str, Any], name: str, default: bool) -> bool:
    raw = values.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _directory(values: Mapping[str, Any], name: str, default: Path) -> Path:
    raw = str(values.get(name) or "").strip()
    return Path(raw).expanduser() if raw else default
