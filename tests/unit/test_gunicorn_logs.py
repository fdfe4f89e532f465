"""gunicorn's own lines, through the filter ``licensing serve`` installs on its error log."""

from __future__ import annotations

import logging

import pytest

from licensing.gunicorn_conf import RedactClientDetails


def filtered(message: str, *args: object) -> str:
    record = logging.LogRecord("gunicorn.error", logging.WARNING, __file__, 1, message, args, None)
    assert RedactClientDetails().filter(record)
    return record.getMessage()


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Invalid request from ip=203.0.113.9: Invalid HTTP Header: 'X-Mail: a@example.com'",
            "Invalid request: Invalid HTTP Header: '[redacted]'",
        ),
        (
            "Invalid request from ip=2001:db8::1: Invalid HTTP method: b'\\x01mail01'",
            "Invalid request: Invalid HTTP method: '[redacted]'",
        ),
        (
            "Invalid request from ip=198.51.100.7: limit request headers fields size",
            "Invalid request: limit request headers fields size",
        ),
    ],
)
def test_a_refused_request_keeps_what_was_wrong_but_not_who_sent_what(
    message: str, expected: str
) -> None:
    assert filtered(message) == expected


def test_the_target_of_a_failed_request_is_dropped() -> None:
    line = filtered("Error handling request %s %s", "GET", "/v1/partner/x?email=a@example.com")
    assert line == "Error handling request GET [redacted]"


def test_gunicorn_s_other_lines_are_left_alone() -> None:
    for line in ("Can't connect to ('127.0.0.1', 8000)", "Booting worker with pid: 12"):
        assert filtered(line) == line
