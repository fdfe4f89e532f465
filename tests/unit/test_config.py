"""Settings are validated at start-up, with messages that name the variable at fault."""

from __future__ import annotations

import base64
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from licensing import create_app
from licensing.config import SETTINGS_HELP, load_settings
from licensing.errors import ConfigError

MASTER_KEY = base64.b64encode(bytes(range(32))).decode()
PRODUCTION = {
    "LICENSING_ENV": "production",
    "LICENSING_MASTER_KEY": MASTER_KEY,
    "LICENSING_SECRET_KEY": "s" * 32,
    "LICENSING_ISSUER": "https://licensing.example.com",
    "LICENSING_DATABASE_URL": "postgresql+psycopg://licensing@db/licensing",
}


def load(tmp_path: Path, **values: Any) -> Any:
    return load_settings(values, tmp_path)


def test_production_settings_load(tmp_path: Path) -> None:
    settings = load(tmp_path, **PRODUCTION)
    assert settings.is_production
    assert settings.master_key == bytes(range(32))
    assert settings.issuer == "https://licensing.example.com"
    assert not settings.uses_embedded_database
    assert not (tmp_path / "master.key").exists()


def test_a_postgresql_url_without_a_driver_uses_the_one_the_extra_installs(
    tmp_path: Path,
) -> None:
    """SQLAlchemy before 2.1 would load psycopg2, which is not a dependency."""
    given = PRODUCTION | {"LICENSING_DATABASE_URL": "postgresql://licensing@db/licensing"}
    assert load(tmp_path, **given).database_url == "postgresql+psycopg://licensing@db/licensing"


def test_a_postgresql_url_for_another_driver_is_refused(tmp_path: Path) -> None:
    given = PRODUCTION | {"LICENSING_DATABASE_URL": "postgresql+psycopg2://licensing@db/x"}
    with pytest.raises(ConfigError, match=r"postgresql\+psycopg://"):
        load(tmp_path, **given)


def test_production_refuses_to_start_without_its_secrets(tmp_path: Path) -> None:
    # Empty values override whatever the environment running the tests holds.
    unset = dict.fromkeys(("LICENSING_MASTER_KEY", "LICENSING_SECRET_KEY", "LICENSING_ISSUER"), "")
    with pytest.raises(ConfigError) as raised:
        create_app(
            {"LICENSING_ENV": "production", "LICENSING_INSTANCE_PATH": str(tmp_path), **unset}
        )
    message = raised.value.detail
    for name in ("LICENSING_MASTER_KEY", "LICENSING_SECRET_KEY", "LICENSING_ISSUER"):
        assert name in message
    assert not (tmp_path / "master.key").exists()


@pytest.mark.parametrize("missing", ["LICENSING_MASTER_KEY", "LICENSING_SECRET_KEY"])
def test_production_names_the_one_missing_secret(tmp_path: Path, missing: str) -> None:
    values = {**PRODUCTION, missing: "  "}
    with pytest.raises(ConfigError, match=f"^{missing} must be set in production$"):
        load(tmp_path, **values)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("not base64 at all!", "is not valid base64"),
        (base64.b64encode(bytes(16)).decode(), "must decode to 32 bytes, not 16"),
        (base64.b64encode(bytes(33)).decode(), "must decode to 32 bytes, not 33"),
    ],
)
def test_a_bad_master_key_is_refused(tmp_path: Path, value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=f"LICENSING_MASTER_KEY {problem}"):
        load(tmp_path, LICENSING_MASTER_KEY=value)


def test_a_url_safe_master_key_is_accepted(tmp_path: Path) -> None:
    raw = bytes([0xFB, 0xFF] * 16)
    settings = load(tmp_path, LICENSING_MASTER_KEY=base64.urlsafe_b64encode(raw).decode())
    assert settings.master_key == raw


def test_a_short_secret_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LICENSING_SECRET_KEY must be at least 32"):
        load(tmp_path, LICENSING_SECRET_KEY="s" * 31)


def test_the_replay_window_must_cover_twice_the_clock_skew(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"LICENSING_REPLAY_WINDOW \(599\).*CLOCK_SKEW \(300\)"):
        load(tmp_path, LICENSING_CLOCK_SKEW="300", LICENSING_REPLAY_WINDOW="599")
    settings = load(tmp_path, LICENSING_CLOCK_SKEW="300", LICENSING_REPLAY_WINDOW="600")
    assert (settings.clock_skew, settings.replay_window) == (300, 600)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("LICENSING_CLOCK_SKEW", "five", "must be an integer, not 'five'"),
        ("LICENSING_REPLAY_WINDOW", "1.5", "must be an integer, not '1.5'"),
        ("LICENSING_TRUSTED_PROXY_HOPS", "-1", "must be at least 0, not -1"),
        ("LICENSING_CACHE_TTL", "soon", "must be an integer, not 'soon'"),
        ("LICENSING_CLOCK_SKEW", "0", "must be at least 1, not 0"),
        ("LICENSING_LOG_JSON", "maybe", "must be true or false, not 'maybe'"),
        ("LICENSING_ENV", "staging", "must be one of development, production, not 'staging'"),
        ("LICENSING_LOG_LEVEL", "loud", "must be DEBUG, INFO, WARNING or ERROR"),
        ("LICENSING_DATABASE_URL", "mysql://db/licensing", "must be a sqlite:/// or postgresql"),
        ("LICENSING_MISUSE_NOTICE_DAYS", "0", "must be at least 1, not 0"),
        ("LICENSING_MISUSE_FINAL_NOTICE_DAYS", "two weeks", "must be an integer, not 'two weeks'"),
    ],
)
def test_bad_values_are_refused_by_name(
    tmp_path: Path, name: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, **{name: value})
    assert raised.value.detail.startswith(f"{name} {problem}")


def test_the_escalation_periods_default_to_two_weeks_and_can_be_set(tmp_path: Path) -> None:
    defaults = load(tmp_path)
    assert (defaults.misuse_notice_days, defaults.misuse_final_notice_days) == (14, 14)
    given = load(
        tmp_path, LICENSING_MISUSE_NOTICE_DAYS="7", LICENSING_MISUSE_FINAL_NOTICE_DAYS="21"
    )
    assert (given.misuse_notice_days, given.misuse_final_notice_days) == (7, 21)


def test_development_generates_its_secrets_once_with_mode_0600(tmp_path: Path) -> None:
    first = load(tmp_path)
    master_file, secret_file = tmp_path / "master.key", tmp_path / "secret.key"
    for path in (master_file, secret_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert base64.b64decode(master_file.read_text()) == first.master_key
    assert len(first.secret_key) >= 32
    generated = master_file.stat().st_mtime_ns

    second = load(tmp_path)
    assert (second.master_key, second.secret_key) == (first.master_key, first.secret_key)
    assert master_file.stat().st_mtime_ns == generated
    assert second.database_url == f"sqlite:///{tmp_path / 'licensing.sqlite3'}"
    assert second.uses_embedded_database


def test_a_corrupt_generated_master_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "master.key").write_text("garbage\n")
    with pytest.raises(ConfigError) as raised:
        load(tmp_path)
    # The file is named: the operator never set the variable.
    assert raised.value.detail == f"{tmp_path / 'master.key'} must decode to 32 bytes, not 5"


def test_a_bad_previous_master_key_names_its_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^LICENSING_MASTER_KEY_PREVIOUS is not valid base64$"):
        load(tmp_path, LICENSING_MASTER_KEY=MASTER_KEY, LICENSING_MASTER_KEY_PREVIOUS="!!")


def test_a_missing_key_file_beside_a_database_with_sealed_rows_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "licensing.sqlite3") as connection:
        connection.execute("CREATE TABLE server_keys (kid TEXT)")
        connection.execute("CREATE TABLE licenses (id TEXT)")
        connection.execute("INSERT INTO licenses VALUES ('x')")
    connection.close()

    with pytest.raises(ConfigError, match="restore the key file or set LICENSING_MASTER_KEY"):
        load(tmp_path)
    assert not (tmp_path / "master.key").exists()


def test_a_missing_key_file_beside_an_empty_database_is_generated(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "licensing.sqlite3") as connection:
        connection.execute("CREATE TABLE licenses (id TEXT)")
    connection.close()

    assert len(load(tmp_path).master_key) == 32
    assert (tmp_path / "master.key").is_file()


def test_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path, LICENSING_MASTER_KEY=MASTER_KEY, LICENSING_SECRET_KEY="s" * 32)
    assert settings.env == "development"
    assert (settings.clock_skew, settings.replay_window, settings.trusted_proxy_hops) == (
        300,
        600,
        0,
    )
    assert (settings.issuer, settings.redis_url, settings.log_json) == (
        "licensing-development",
        None,
        True,
    )


def test_audit_checkpoints_go_to_the_instance_folder_unless_set(tmp_path: Path) -> None:
    assert load(tmp_path).audit_checkpoint_dir == tmp_path / "checkpoints"
    elsewhere = tmp_path / "elsewhere"
    given = load(tmp_path, LICENSING_AUDIT_CHECKPOINT_DIR=f" {elsewhere} ")
    assert given.audit_checkpoint_dir == elsewhere


def test_misuse_thresholds_come_from_name_value_pairs(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        **PRODUCTION,
        LICENSING_MISUSE_THRESHOLDS=" network_spread_networks=8, churn_events = 10 ,",
        LICENSING_MISUSE_FULL_SCAN_HOURS="6",
    )
    assert settings.misuse_thresholds.network_spread_networks == 8
    assert settings.misuse_thresholds.churn_events == 10
    assert settings.misuse_thresholds.server_spread_factor == 3  # the default stays
    assert settings.misuse_full_scan_hours == 6
    defaults = load(tmp_path, **PRODUCTION)
    assert (
        defaults.misuse_thresholds.network_spread_networks,
        defaults.misuse_full_scan_hours,
    ) == (
        5,
        24,
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("network_spread=8", "unknown misuse threshold"),
        ("network_spread_networks=0", "at least 1"),
        ("network_spread_networks=many", "whole number"),
        ("lookback_days=3000000", "lookback_days must be at most 400"),
        ("revoked_grace_hours=99999999999", "revoked_grace_hours must be at most 9600"),
        ("network_spread_networks", "name=value"),
        ("=3", "name=value"),
    ],
)
def test_bad_misuse_thresholds_stop_the_start_up(tmp_path: Path, value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=f"LICENSING_MISUSE_THRESHOLDS.*{problem}"):
        load(tmp_path, **PRODUCTION, LICENSING_MISUSE_THRESHOLDS=value)


def test_the_full_scan_period_is_whole_hours(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LICENSING_MISUSE_FULL_SCAN_HOURS"):
        load(tmp_path, **PRODUCTION, LICENSING_MISUSE_FULL_SCAN_HOURS="0")


def test_console_settings_have_safe_defaults_and_are_validated(tmp_path: Path) -> None:
    from licensing.config import ConsoleSettings

    base = {"LICENSING_MASTER_KEY": base64.b64encode(bytes(32)).decode()}
    assert load_settings(base, tmp_path).console == ConsoleSettings(
        secure_cookie=True,
        idle_minutes=30,
        session_hours=12,
        lockout_failures=5,
        lockout_minutes=15,
    )
    tuned = load_settings(
        base
        | {
            "LICENSING_CONSOLE_SECURE_COOKIE": "false",
            "LICENSING_CONSOLE_IDLE_MINUTES": "10",
            "LICENSING_STAFF_LOCKOUT_FAILURES": "3",
        },
        tmp_path,
    ).console
    assert (tuned.secure_cookie, tuned.idle_minutes, tuned.lockout_failures) == (False, 10, 3)
    with pytest.raises(ConfigError, match="LICENSING_STAFF_LOCKOUT_MINUTES"):
        load_settings(base | {"LICENSING_STAFF_LOCKOUT_MINUTES": "0"}, tmp_path)


def test_the_scan_priority_is_a_nice_value(tmp_path: Path) -> None:
    assert load(tmp_path).misuse_scan_nice == 10
    assert load(tmp_path, LICENSING_MISUSE_SCAN_NICE="0").misuse_scan_nice == 0
    with pytest.raises(ConfigError, match="LICENSING_MISUSE_SCAN_NICE must be at most 19"):
        load(tmp_path, LICENSING_MISUSE_SCAN_NICE="20")


def test_the_readme_lists_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")

    missing = [name for name, _, _ in SETTINGS_HELP if f"| `{name}` |" not in readme]
    assert missing == []


def test_the_erasure_ledger_is_in_the_instance_folder_unless_set(tmp_path: Path) -> None:
    assert load(tmp_path).erasure_ledger == tmp_path / "erasure-ledger.jsonl"
    elsewhere = tmp_path / "backed-up" / "ledger.jsonl"
    assert load(tmp_path, LICENSING_ERASURE_LEDGER=f" {elsewhere} ").erasure_ledger == elsewhere
