"""The landing page: who is signed in, and the dashboard's figures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import render_template
from markupsafe import Markup

from licensing import timeutil
from licensing.console import auth, charts
from licensing.console.blueprint import bp
from licensing.console.forms import SignOutForm
from licensing.extensions import db
from licensing.models import StaffRole
from licensing.services import console_dashboard as dashboard

DAYS = 30


@bp.route("/")
@auth.requires(StaffRole.VIEWER)
def home() -> Any:
    session, now = db.session(), timeutil.utcnow()
    last = now.date()
    first = last - timedelta(days=DAYS - 1)
    usage = dashboard.usage_per_day(session, first, last)
    check_ins = charts.fill_days({d: u.check_ins for d, u in usage.days.items()}, first, last)
    active = charts.fill_days({d: u.active_instances for d, u in usage.days.items()}, first, last)
    return render_template(
        "console/home/index.html",
        staff=auth.current_staff(),
        sign_out=SignOutForm(),
        # charts.py escapes every label: its SVG text is safe to embed as it is.
        by_severity=Markup(  # noqa: S704
            charts.horizontal_bars(
                dashboard.open_cases_by_severity(session),
                label="Open misuse cases by severity",
                unit="cases",
            )
        ),
        by_rule=Markup(  # noqa: S704
            charts.horizontal_bars(
                dashboard.open_cases_by_rule(session),
                label="Open misuse cases by rule",
                unit="cases",
            )
        ),
        check_ins=Markup(  # noqa: S704
            charts.daily_bars(
                check_ins, label=f"Check-ins per day, last {DAYS} days", unit="check-ins"
            )
        ),
        active_instances=Markup(  # noqa: S704
            charts.daily_line(
                active, label=f"Active instances per day, last {DAYS} days", unit="instances"
            )
        ),
        usage_as_of=usage.as_of,
        days_not_computed=DAYS - len(usage.days),
        expiring=dashboard.licenses_expiring(session, now, DAYS),
        upgrades_ending=dashboard.upgrade_protection_ending(session, now, DAYS),
        signature_failures=dashboard.signature_failures_since(session, now - timedelta(hours=24)),
        days=DAYS,
    )
