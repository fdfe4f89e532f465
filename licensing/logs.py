"""Structured logs: one JSON object a line, with the request id and never a secret."""

from __future__ import annotations

import logging
import re
import sys
import traceback
from types import TracebackType
from typing import Any

from pythonjsonlogger.json import JsonFormatter

# Anything shaped like a license key (grouped or not) is masked, whatever logged it.
_LICENSE_KEY = re.compile(r"\b[0-9A-Za-z]{5}(?:[- ]?[0-9A-Za-z]{5}){4}\b")
_HANDLER_NAME = "licensing"


class RedactLicenseKeys(logging.Filter):
    """Masks license-key-shaped text in the message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _LICENSE_KEY.sub("[redacted-key]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


# PostgreSQL quotes the values it refuses in the lines after its message ("DETAIL:  Key
# (email)=(someone@example.org) already exists."), and SQLAlchemy repeats them in its own.
_DATABASE_DETAIL = re.compile(r"^(DETAIL|HINT|CONTEXT|WHERE):.*(?:\n|$)", re.MULTILINE)
_QUOTED_KEY = re.compile(r"Key \((.*?)\)=\(.*?\)")
_DATABASE_MODULES = ("sqlalchemy", "psycopg", "sqlite3")
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class RedactDatabaseErrors(logging.Filter):
    """No message quotes a value the database refused (its traceback: see ``_traceback``).

    Bound parameters are hidden by the engine (``hide_parameters``), but the driver's own
    message carries the offending value, and a message may repeat an error's text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = _scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


class _Text(logging.Formatter):
    """Plain lines; tracebacks as ``_traceback`` renders them."""

    def format(self, record: logging.LogRecord) -> str:
        record.exc_text = None  # another handler may have cached its own rendering on it
        return super().format(record)

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return _traceback(ei)


class _Json(JsonFormatter):
    """JSON lines; tracebacks as ``_traceback`` renders them."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return _traceback(ei)


def _scrub(text: str) -> str:
    return _QUOTED_KEY.sub(r"Key (\1)=([redacted])", _DATABASE_DETAIL.sub("", text))


def _traceback(exc_info: _ExcInfo) -> str:
    """A traceback whose database exceptions show their first line only, scrubbed."""
    text = "".join(traceback.format_exception(*exc_info)).rstrip("\n")
    seen: set[int] = set()
    error: BaseException | None = exc_info[1]
    pending = [error]
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        pending += [error.__cause__, error.__context__]
        if any(c.__module__.startswith(_DATABASE_MODULES) for c in type(error).__mro__):
            full = str(error)
            first = full.split("\n", 1)[0]
            if first != full:
                text = text.replace(full, first)
    return _scrub(text)


def configure_logging(level: str, *, as_json: bool) -> None:
    """Install one handler on the root logger (idempotent across app instances)."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in root.handlers:
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RedactDatabaseErrors())
    handler.addFilter(RedactLicenseKeys())
    if as_json:
        handler.setFormatter(
            _Json(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(_Text("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    # Alembic narrates every plugin at INFO; operators want to see migrations, not that.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
