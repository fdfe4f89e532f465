"""The ``licensing misuse`` group itself, so every concern's module can add to it."""

from __future__ import annotations

from flask.cli import AppGroup

misuse = AppGroup(
    "misuse",
    help="Misuse detection: scan, backtest, cases, exceptions, the escalation ladder, figures.",
)
