"""Small helpers the console's views share: an id from the URL, a form's first problem."""

from __future__ import annotations

import uuid

from flask import abort
from flask_wtf import FlaskForm


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
