"""Signing in and out."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from licensing import metrics
from licensing.console import auth
from licensing.console.blueprint import bp
from licensing.console.forms import SignInForm, SignOutForm
from licensing.extensions import db
from licensing.models import StaffRole
from licensing.runtime import current
from licensing.services import staff as accounts
from licensing.services.staff_sign_in import LockoutPolicy, authenticate

# One message for every failure: it never tells whether the address has an account,
# nor whether it is locked (a locked account's right password fails the same way).
SIGN_IN_FAILED = (
    "Signing in failed. Check the e-mail address and the password. After {failures} "
    "failed attempts in a row an account is locked for {minutes} minutes."
)


@bp.route("/login", methods=["GET", "POST"])
@auth.public
def sign_in() -> Any:
    """The sign-in form; a success starts a new session."""
    if request.method == "GET" and auth.current_staff() is not None:
        return auth.redirect_home()
    console = current().settings.console
    form = SignInForm()
    error = None
    if form.validate_on_submit():
        result = authenticate(
            db.session(),
            form.email.data or "",
            form.password.data or "",
            policy=LockoutPolicy(console.lockout_failures, console.lockout_minutes),
        )
        if result.succeeded and result.staff is not None:
            auth.start_session(result.staff)
            return redirect(auth.safe_next(request.args.get("next")), code=303)
        metrics.observe_staff_sign_in_failure(result.outcome.value)
        error = SIGN_IN_FAILED.format(
            failures=console.lockout_failures, minutes=console.lockout_minutes
        )
    # 200 with the message, not 401: that status promises a WWW-Authenticate challenge.
    return render_template("console/auth/sign_in.html", form=form, error=error)


@bp.route("/logout", methods=["POST"])
@auth.requires(StaffRole.VIEWER)
def sign_out() -> Any:
    """End the session, on the server too (a copy of the cookie stops working)."""
    form = SignOutForm()
    staff = auth.current_staff()
    if form.validate_on_submit() and staff is not None:
        accounts.sign_out(db.session(), staff)
    auth.end_session()
    flash("You have signed out.")
    return redirect(url_for("console.sign_in"), code=303)
