"""The ``licensing misuse`` group itself, so every concern's module can add to it."""

from __future__ import annotations

from flask.cli import AppGroup

misuse = AppGroup(
    "misuse",
    help="Misuse detection: cases, exceptions, the escalation ladder and per-rule figures.",
)
