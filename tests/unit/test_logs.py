"""The log filter masks anything shaped like a license key, whoever logs it."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import IntegrityError

from licensing.logs import RedactLicenseKeys, configure_logging

KEY = "01234-56789-ABCDE-FGHJK-MNPQ9"
KEY_ID = "3xey3BYlYKn16aeoMxLQ1P"


def filtered(msg: str, *args: object) -> logging.LogRecord:
    record = logging.LogRecord("licensing.test", logging.INFO, __file__, 1, msg, args, None)
    assert RedactLicenseKeys().filter(record) is True  # masks, never drops
    return record


@pytest.mark.parametrize(
    "spelling", [KEY, KEY.lower(), KEY.replace("-", ""), KEY.replace("-", " ")]
)
def test_a_key_in_the_message_is_masked(spelling: str) -> None:
    record = filtered(f"customer pasted {spelling} into the ticket")
    assert record.getMessage() == "customer pasted [redacted-key] into the ticket"


def test_a_key_in_the_arguments_is_masked() -> None:
    record = filtered("activation for %s from %s", KEY, "192.0.2.1")
    assert record.getMessage() == "activation for [redacted-key] from 192.0.2.1"
    assert KEY not in str(record.msg)
    assert record.args is None


def test_text_without_a_key_is_left_alone() -> None:
    record = filtered("license %s checked in %d times", KEY_ID, 3)
    assert (record.msg, record.args) == ("license %s checked in %d times", (KEY_ID, 3))
    assert record.getMessage() == f"license {KEY_ID} checked in 3 times"


def test_longer_tokens_are_not_mistaken_for_keys() -> None:
    request_id = "0123456789abcdef0123456789abcdef"  # 32 characters, one word
    assert filtered("request %s", request_id).getMessage() == f"request {request_id}"


# What psycopg raises for a unique violation, as SQLAlchemy wraps it.
DRIVER_TEXT = (
    'duplicate key value violates unique constraint "customers_email_key"\n'
    "DETAIL:  Key (email)=(someone.private@example.org) already exists."
)


def _database_error() -> BaseException:
    try:
        try:
            raise ValueError(DRIVER_TEXT)
        except ValueError as driver:
            raise IntegrityError("INSERT INTO customers ...", None, driver) from driver
    except IntegrityError as wrapped:
        return wrapped


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_a_database_error_is_logged_without_the_value_it_quotes(
    as_json: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", as_json=as_json)
    try:
        error = _database_error()
        logging.getLogger("licensing.test").error("commit failed", exc_info=error)
        logging.getLogger("licensing.test").error("commit failed: %s", error)
    finally:
        configure_logging("INFO", as_json=False)
    output = capsys.readouterr().err
    assert "IntegrityError" in output and "customers_email_key" in output, output
    assert "someone.private" not in output, output
    assert "DETAIL" not in output, output
