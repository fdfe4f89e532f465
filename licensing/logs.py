"""Structured logs: one JSON object a line, with the request id and never a secret."""

from __future__ import annotations

import logging
import re
import sys

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


def configure_logging(level: str, *, as_json: bool) -> None:
    """Install one handler on the root logger (idempotent across app instances)."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in root.handlers:
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RedactLicenseKeys())
    if as_json:
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    # Alembic narrates every plugin at INFO; operators want to see migrations, not that.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
