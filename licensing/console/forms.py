"""The console's forms; Flask-WTF adds the CSRF token to each."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, TextAreaField
from wtforms.validators import DataRequired, Length


class SignInForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class SignOutForm(FlaskForm):  # type: ignore[misc]
    """No fields: signing out is a POST carrying only the CSRF token."""


class CaseNoteForm(FlaskForm):  # type: ignore[misc]
    """A note, an assignee or a decision's reason: one text field for each case action."""

    text = TextAreaField("Text", validators=[Length(max=1000)])
