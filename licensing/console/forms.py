"""The console's forms; Flask-WTF adds the CSRF token to each."""

from __future__ import annotations

from enum import StrEnum

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from licensing.models import PartnerKind, Scope


class SignInForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class SignOutForm(FlaskForm):  # type: ignore[misc]
    """No fields: signing out is a POST carrying only the CSRF token."""


class CaseNoteForm(FlaskForm):  # type: ignore[misc]
    """A note, an assignee or a decision's reason: one text field for each case action."""

    text = TextAreaField("Text", validators=[Length(max=1000)])


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
