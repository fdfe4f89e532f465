"""The forms of the privacy-request pages; Flask-WTF adds the CSRF token to each."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from licensing.models import PrivacyRequestKind


class PrivacyRequestForm(FlaskForm):  # type: ignore[misc]
    """Record a data-subject request as received."""

    kind = SelectField(
        "Right exercised",
        choices=[SelectChoice(k.value, k.value.replace("_", " ")) for k in PrivacyRequestKind],
    )
    customer = StringField("Customer (id or e-mail, if known)", validators=[Length(max=320)])
    received = DateField("Received on (UTC; today if empty)", validators=[Optional()])
    verified = TextAreaField(
        "How the requester's identity was verified",
        validators=[DataRequired(), Length(min=5, max=500)],
    )


class SubjectForm(FlaskForm):  # type: ignore[misc]
    """Name the request's data subject, found by the search."""

    customer = HiddenField("Customer", validators=[DataRequired(), Length(max=64)])


class RefuseForm(FlaskForm):  # type: ignore[misc]
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(min=5, max=2000)])


class RectifyForm(FlaskForm):  # type: ignore[misc]
    """The customer's corrected fields; activations' server names come as extra fields."""

    name = StringField("Name", validators=[Length(max=200)])
    email = StringField("E-mail", validators=[Length(max=320)])
    company = StringField("Company (empty clears it)", validators=[Length(max=200)])


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button: export, restrict, lift (the CSRF token only)."""
