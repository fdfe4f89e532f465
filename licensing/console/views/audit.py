"""The audit log: events newest first, filtered and paged, and the chain's verification.

Verifying walks the whole chain (every event's hash), so it runs on demand, from a
button, not on every page: a big log would make each page of it slow.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import render_template, request

from licensing.console import auth
from licensing.console.blueprint import bp
from licensing.console.forms import SignOutForm
from licensing.console.paging import cursor
from licensing.extensions import db
from licensing.models import StaffRole
from licensing.runtime import current
from licensing.services import audit

PAGE_SIZE = 50
FILTERS = ("actor", "action", "subject", "since")


@bp.route("/audit")
@auth.requires(StaffRole.VIEWER)
def audit_log() -> Any:
    filters = {name: request.args.get(name, "").strip() for name in FILTERS}
    since, error = _since(filters["since"])
    before = cursor("before")
    events = [] if error else _page(filters, since, before)
    older = events[PAGE_SIZE - 1].seq if len(events) > PAGE_SIZE else None
    # The anchor's key must open under the master key: the database alone cannot vouch.
    verify = request.args.get("verify")
    report = audit.verify(db.session(), sealer=current().sealer) if verify else None
    page = render_template(
        "console/audit/index.html",
        staff=auth.current_staff(),
        sign_out=SignOutForm(),
        events=events[:PAGE_SIZE],
        filters=filters,
        kept={name: value for name, value in filters.items() if value},
        older=older,
        paged=before is not None,
        report=report,
        error=error,
    )
    return (page, 400) if error else page


def _page(filters: dict[str, str], since: datetime | None, before: int | None) -> list[Any]:
    # One more than a page: whether there is an older page, without counting them all.
    return list(
        audit.list_events(
            db.session(),
            since=since,
            actor=filters["actor"] or None,
            action=filters["action"] or None,
            subject=filters["subject"] or None,
            before_seq=before,
            limit=PAGE_SIZE + 1,
        )
    )


def _since(text: str) -> tuple[datetime | None, str | None]:
    if not text:
        return None, None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None, "“Since” must be a date, such as 2026-12-01."
    return datetime(day.year, day.month, day.day, tzinfo=UTC), None
