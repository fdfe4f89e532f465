"""Settings from ``LICENSING_*`` environment variables, validated once at start-up.

Every setting has one name, the environment variable's; ``create_app(config)`` accepts
the same names so that tests and operators speak one vocabulary.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from licensing.errors import ConfigError
from licensing.instance import FIX as INSTANCE_FIX
from licensing.instance import instance_folder
from licensing.master_key_file import (
    MASTER_KEY_ENV,
    MASTER_KEY_FILE,
    PREVIOUS_MASTER_KEY_ENV,
    PREVIOUS_MASTER_KEY_FILE,
    decode_master_key,
    lost_key_file,
    master_key,
    new_master_key,
    previous_master_key,
    replace_key_file,
)
from licensing.misuse.thresholds import Thresholds
from licensing.privacy.categories import PERIOD_SETTINGS, RetentionPeriods

log = logging.getLogger(__name__)

# The master-key names stay importable from here, where the other settings are.
__all__ = [
    "MASTER_KEY_ENV",
    "MASTER_KEY_FILE",
    "PREVIOUS_MASTER_KEY_ENV",
    "PREVIOUS_MASTER_KEY_FILE",
    "Settings",
    "decode_master_key",
    "load_settings",
    "lost_key_file",
    "new_master_key",
    "replace_key_file",
]

ENVIRONMENTS = ("development", "production")
SECRET_KEY_FILE = "secret.key"  # noqa: S105 - a file name, not a secret
DEVELOPMENT_ISSUER = "licensing-development"


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """The staff console's session and sign-in policy."""

    # Off only for local HTTP (and tests): the cookie then travels unencrypted.
    secure_cookie: bool = True
    idle_minutes: int = 30
    session_hours: int = 12
    lockout_failures: int = 5
    lockout_minutes: int = 15


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
    # The erasure ledger: one line per erasure, outside the database, so that erasures
    # done since a backup are applied again after it is restored (replay-erasures).
    erasure_ledger: Path
    # The old key-encryption key while a rotation re-seals under ``master_key``.
    master_key_previous: bytes | None
    # Where ``master_key`` came from: the environment variable's name or the key file.
    master_key_source: str
    # True when this process generated the development key file (it did not exist).
    master_key_generated: bool
    partner_auth_failure_limit: str = "10/minute"
    # The misuse rules' thresholds, and how often the misuse scan makes a full pass.
    misuse_thresholds: Thresholds = field(default_factory=Thresholds)
    misuse_full_scan_hours: int = 24
    # How far the scan lowers its own CPU priority (os.nice) so that check-ins on the same
    # host keep their latency; 0 leaves it as started.
    misuse_scan_nice: int = 10
    # The escalation ladder: days from notifying the customer to the final notice, and
    # from the final notice to suspending the license.
    misuse_notice_days: int = 14
    misuse_final_notice_days: int = 14
    # Seconds between writes of the invalid-signature tally (0: only when flushed).
    signature_failure_flush: float = 5.0
    # Four eyes: revoking a license waits for a second admin's approval.
    four_eyes: bool = False
    # The staff console: its session cookie, its timeouts and the sign-in lockout.
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    # How long each category of personal data is kept (docs/privacy.md).
    retention: RetentionPeriods = field(default_factory=RetentionPeriods)

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
        "LICENSING_ERASURE_LEDGER",
        "<instance>/erasure-ledger.jsonl",
        "the append-only erasure ledger (ids and a MAC per line; back it up apart from the "
        "database: `licensing privacy replay-erasures` re-applies it after a restore)",
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
    (
        "LICENSING_MISUSE_THRESHOLDS",
        "(the defaults of docs/misuse.md)",
        "misuse rule thresholds as `name=value,name=value` (whole numbers ≥ 1)",
    ),
    (
        "LICENSING_MISUSE_FULL_SCAN_HOURS",
        "24",
        "the misuse scan makes a full pass when its last one is older than this",
    ),
    (
        "LICENSING_MISUSE_SCAN_NICE",
        "10",
        "how far the misuse scan lowers its own CPU priority (0-19, as nice(1)) so that "
        "check-ins served on the same host keep their latency",
    ),
    (
        "LICENSING_MISUSE_NOTICE_DAYS",
        "14",
        "days after notifying the customer of a confirmed misuse case that the final notice is due",
    ),
    (
        "LICENSING_MISUSE_FINAL_NOTICE_DAYS",
        "14",
        "days after the final notice that suspending the license is due",
    ),
    (
        "LICENSING_SIGNATURE_FAILURE_FLUSH",
        "5",
        "seconds between writes of each worker's tally of invalid signatures per key id "
        "(0: no timer, written only when flushed explicitly)",
    ),
    (
        "LICENSING_FOUR_EYES",
        "false",
        "revoking a license waits for a second admin's approval in the staff console "
        "(docs/console.md)",
    ),
    (
        "LICENSING_CONSOLE_SECURE_COOKIE",
        "true",
        "the staff console's session cookie is sent over HTTPS only (false: local HTTP)",
    ),
    (
        "LICENSING_CONSOLE_IDLE_MINUTES",
        "30",
        "minutes without a request after which a staff console session ends",
    ),
    (
        "LICENSING_CONSOLE_SESSION_HOURS",
        "12",
        "hours after signing in that a staff console session ends, however active",
    ),
    (
        "LICENSING_STAFF_LOCKOUT_FAILURES",
        "5",
        "failed sign-ins in a row after which a staff account is locked",
    ),
    (
        "LICENSING_STAFF_LOCKOUT_MINUTES",
        "15",
        "minutes a locked staff account stays locked",
    ),
    (
        "LICENSING_RETENTION_RAW_USAGE_DAYS",
        "30",
        "days IP addresses and server names are kept raw, then pseudonymised (1-90)",
    ),
    (
        "LICENSING_RETENTION_USAGE_MONTHS",
        "13",
        "months pseudonymised usage and misuse evidence are kept, then deleted (1-36)",
    ),
    (
        "LICENSING_RETENTION_CONTRACT_DAYS",
        "90",
        "days after a license ends that its customer's data is anonymised (0-3650)",
    ),
    (
        "LICENSING_RETENTION_DISCLOSURE_DAYS",
        "730",
        "days a record of what a partner was told is kept (30-3650)",
    ),
    (
        "LICENSING_RETENTION_AUDIT_DAYS",
        "730",
        "days audit events are kept, and disabled staff accounts after disabling (30-3650)",
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
    key, master_key_source, generated = master_key(values, instance_path, database_url)
    return Settings(
        env=env,
        database_url=database_url,
        master_key=key,
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
        erasure_ledger=_directory(
            values, "LICENSING_ERASURE_LEDGER", instance_path / "erasure-ledger.jsonl"
        ),
        master_key_previous=previous_master_key(values, instance_path, master_key_source),
        master_key_source=master_key_source,
        master_key_generated=generated,
        partner_auth_failure_limit=_rate_limit(
            values, "LICENSING_PARTNER_AUTH_FAILURE_LIMIT", "10/minute"
        ),
        misuse_thresholds=_misuse_thresholds(values, "LICENSING_MISUSE_THRESHOLDS"),
        misuse_full_scan_hours=_integer(
            values, "LICENSING_MISUSE_FULL_SCAN_HOURS", 24, minimum=1, maximum=24 * 31
        ),
        misuse_scan_nice=_integer(values, "LICENSING_MISUSE_SCAN_NICE", 10, minimum=0, maximum=19),
        misuse_notice_days=_integer(values, "LICENSING_MISUSE_NOTICE_DAYS", 14, minimum=1),
        misuse_final_notice_days=_integer(
            values, "LICENSING_MISUSE_FINAL_NOTICE_DAYS", 14, minimum=1
        ),
        signature_failure_flush=float(
            _integer(values, "LICENSING_SIGNATURE_FAILURE_FLUSH", 5, minimum=0)
        ),
        four_eyes=_boolean(values, "LICENSING_FOUR_EYES", False),
        console=_console(values),
        retention=_retention(values),
    )


def _console(values: Mapping[str, Any]) -> ConsoleSettings:
    return ConsoleSettings(
        secure_cookie=_boolean(values, "LICENSING_CONSOLE_SECURE_COOKIE", True),
        idle_minutes=_integer(values, "LICENSING_CONSOLE_IDLE_MINUTES", 30, minimum=1),
        session_hours=_integer(values, "LICENSING_CONSOLE_SESSION_HOURS", 12, minimum=1),
        lockout_failures=_integer(values, "LICENSING_STAFF_LOCKOUT_FAILURES", 5, minimum=1),
        lockout_minutes=_integer(values, "LICENSING_STAFF_LOCKOUT_MINUTES", 15, minimum=1),
    )


def _retention(values: Mapping[str, Any]) -> RetentionPeriods:
    return RetentionPeriods(
        **{
            s.field: _integer(values, s.name, s.default, minimum=s.minimum, maximum=s.maximum)
            for s in PERIOD_SETTINGS
        }
    )


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


def _choice(values: Mapping[str, Any], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = str(values.get(name) or default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _integer(
    values: Mapping[str, Any], name: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    raw = values.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        number = int(str(raw).strip())
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from exc
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {number}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, not {number}")
    return number


def _rate_limit(values: Mapping[str, Any], name: str, default: str) -> str:
    from limits import parse

    text = str(values.get(name) or default).strip()
    try:
        parse(text)
    except ValueError:
        raise ConfigError(f"{name} must be a rate limit such as 120/minute, not {text!r}") from None
    return text


def _misuse_thresholds(values: Mapping[str, Any], name: str) -> Thresholds:
    """``name=value,name=value``; unknown names and values that are not whole numbers of
    at least 1 stop the start-up, so a typo never silently tunes nothing."""
    text = str(values.get(name) or "").strip()
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        threshold, equals, value = item.partition("=")
        if not equals or not threshold.strip():
            raise ConfigError(f"{name} must be name=value pairs separated by commas, not {item!r}")
        pairs[threshold.strip()] = value.strip()
    try:
        return Thresholds.from_mapping(pairs)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


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
