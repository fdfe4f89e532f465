"""Small helpers the console's views share: an id from the URL, a form's first problem,
and a service call whose refusal becomes a message."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from flask import abort, flash
from flask_wtf import FlaskForm

from licensing.errors import LicensingError
from licensing.extensions import db


def uuid_or_404(text: str) -> uuid.UUID:
    """The UUID in a path segment; anything else is a page that does not exist."""
    try:
        return uuid.UUID(text)
    except ValueError:
        abort(404)


def first_error(form: FlaskForm) -> tuple[str, str] | None:
    """The first field with a problem, as (its label, its first message); None if none.

    Each page words the refusal itself; the label loses a parenthesised hint
    ("Rate limit (e.g. 120/minute)" -> "Rate limit").
    """
    for name, problems in form.errors.items():
        field = getattr(form, name, None) if name else None  # None: the form's own errors
        label = field.label.text if field is not None else "Form"
        return label.split(" (")[0], problems[0]
    return None


def attempt(action: Callable[[], object], *, done: str, refused: str = "Not done") -> bool:
    """Run one service call; flash ``done``, or the refusal (``refused: why.``) after
    rolling the request back, so a refused step commits nothing."""
    try:
        action()
    except LicensingError as why:
        db.session.rollback()
        flash(f"{refused}: {why}.")
        return False
    flash(done)
    return True
