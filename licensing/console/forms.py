"""The console's forms; Flask-WTF adds the CSRF token to each."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange


class SignInForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class SignOutForm(FlaskForm):  # type: ignore[misc]
    """No fields: signing out is a POST carrying only the CSRF token."""


class CaseNoteForm(FlaskForm):  # type: ignore[misc]
    """A note, an assignee or a decision's reason: one text field for each case action."""

    text = TextAreaField("Text", validators=[Length(max=1000)])


class RevealForm(FlaskForm):  # type: ignore[misc]
    """Why raw addresses and server names are needed: audited with the reveal."""

    reason = TextAreaField("Reason", validators=[DataRequired(), Length(min=10, max=500)])


EXCEPTION_KINDS = {
    "failover_server": "Failover server",
    "nat": "Shared address (NAT)",
    "test_server": "Test server",
    "other": "Other",
}


class ExceptionForm(FlaskForm):  # type: ignore[misc]
    """A legitimate pattern declared for the case's license and rule, until a date."""

    kind = StringField("Kind", validators=[DataRequired(), AnyOf(list(EXCEPTION_KINDS))])
    until = DateField("Until", validators=[DataRequired()])
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=1000)])


class DecisionForm(FlaskForm):  # type: ignore[misc]
    """Approving or turning down a request waiting for a second admin; a note is optional."""

    note = TextAreaField("Note", validators=[Length(max=1000)])


class LicenseReasonForm(FlaskForm):  # type: ignore[misc]
    """Suspend, reinstate or revoke a license: the reason goes into the audit event."""

    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=500)])


class SeatReleaseForm(FlaskForm):  # type: ignore[misc]
    """Free the seat of one activation of the license, for a reason."""

    activation = HiddenField("Activation", validators=[DataRequired(), Length(max=64)])
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=500)])


class RenewForm(FlaskForm):  # type: ignore[misc]
    months = IntegerField("Months", validators=[DataRequired(), NumberRange(min=1, max=120)])


class ExtendForm(FlaskForm):  # type: ignore[misc]
    days = IntegerField("Days", validators=[DataRequired(), NumberRange(min=1, max=3660)])
