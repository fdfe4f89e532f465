"""The landing page: who is signed in, with which role."""

from __future__ import annotations

from typing import Any

from flask import render_template

from licensing.console import auth
from licensing.console.blueprint import bp
from licensing.console.forms import SignOutForm
from licensing.models import StaffRole


@bp.route("/")
@auth.requires(StaffRole.VIEWER)
def home() -> Any:
    return render_template(
        "console/home/index.html", staff=auth.current_staff(), sign_out=SignOutForm()
    )
