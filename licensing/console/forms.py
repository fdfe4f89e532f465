"""The console's forms; Flask-WTF adds the CSRF token to each."""

from __future__ import annotations

from enum import StrEnum

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from licensing.models import PartnerKind, Scope, StaffRole


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
    """``current``: the protection end the page showed (ISO), so a double submit renews once."""

    months = IntegerField("Months", validators=[DataRequired(), NumberRange(min=1, max=120)])
    current = HiddenField("Current", validators=[Length(max=64)])


class ExtendForm(FlaskForm):  # type: ignore[misc]
    """``current``: the expiry the page showed (ISO), so a double submit extends once."""

    days = IntegerField("Days", validators=[DataRequired(), NumberRange(min=1, max=3660)])
    current = HiddenField("Current", validators=[Length(max=64)])


def _choices(values: type[StrEnum]) -> list[SelectChoice]:
    return [SelectChoice(value.value, value.value.replace("_", " ")) for value in values]


class PartnerForm(FlaskForm):  # type: ignore[misc]
    """What ``licensing partner add`` takes: name, kind, networks, rate limit, products."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    kind = SelectField("Kind", choices=_choices(PartnerKind))
    networks = TextAreaField(
        "Allowed networks (CIDR; one a line, none for any address)",
        validators=[Length(max=10_000)],
    )
    rate_limit = StringField(
        "Rate limit per key (e.g. 120/minute; empty for the server's)",
        validators=[Length(max=64)],
    )
    products = StringField(
        "Products (codes, separated by spaces or commas)", validators=[Length(max=2000)]
    )


class PartnerProductForm(FlaskForm):  # type: ignore[misc]
    product = StringField("Product code", validators=[DataRequired(), Length(max=64)])


def _at_least_one(form: FlaskForm, field: SelectMultipleField) -> None:
    # Not DataRequired: its flag would make the browser require every single checkbox.
    if not field.data:
        raise ValidationError("choose at least one scope")


class PartnerKeyForm(FlaskForm):  # type: ignore[misc]
    """What ``licensing partner key create`` takes: scopes, an expiry date, a label."""

    scopes = SelectMultipleField(
        "Scopes",
        choices=_choices(Scope),
        default=[scope.value for scope in Scope],
        validators=[_at_least_one],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    expires = DateField("Expires on (UTC, optional)", validators=[Optional()])
    label = StringField("Label (what the key is for)", validators=[Length(max=200)])


class PartnerActionForm(FlaskForm):  # type: ignore[misc]
    """No fields: suspending, reinstating or revoking a key is the URL, posted with the token."""


STAFF_ROLES = [role.value for role in StaffRole]


class StaffAddForm(FlaskForm):  # type: ignore[misc]
    """A new staff account; its password is generated by the server and shown once."""

    email = EmailField("E-mail", validators=[DataRequired(), Length(max=320)])
    display_name = StringField("Display name", validators=[DataRequired(), Length(max=200)])
    role = StringField("Role", validators=[DataRequired(), AnyOf(STAFF_ROLES)])


class StaffRoleForm(FlaskForm):  # type: ignore[misc]
    role = StringField("Role", validators=[DataRequired(), AnyOf(STAFF_ROLES)])


class StaffAccountForm(FlaskForm):  # type: ignore[misc]
    """No fields: resetting a password or disabling an account carries only the CSRF token."""
