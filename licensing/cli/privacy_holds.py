"""``licensing privacy hold place|release|list``: legal holds, which keep data past its
retention and through an erasure until they are released."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import click
from flask.cli import AppGroup

from licensing.cli.context import actor, runtime, session, uses_database
from licensing.cli.options import REASON
from licensing.cli.output import emit_record, emit_records, json_option
from licensing.errors import InvalidTransition
from licensing.models import HoldScope, LegalHold, License
from licensing.services import customers, legal_holds, licenses
from licensing.timeutil import utcnow

hold = AppGroup(
    "hold",
    help="Legal holds: data kept past its retention, and through an erasure, for a legal "
    "matter until the hold is released.",
)

_REFERENCES = (
    "LICENSE is a license id, key id or the license key; CUSTOMER a customer id or e-mail."
)


def _record(found: LegalHold, today: date) -> dict[str, Any]:
    """A hold as the commands print it: the license by its key id, the customer by id."""
    license = session().get(License, found.license_id) if found.license_id else None
    return {
        "id": found.id,
        "scope": found.scope,
        "license": license.key_id if license is not None else None,
        "customer_id": found.customer_id,
        "matter": found.matter,
        "review_on": found.review_on.isoformat(),
        "review_due": legal_holds.is_review_due(found, today),
        "case_id": found.case_id,
        "placed_by": found.placed_by,
        "placed_at": found.placed_at,
        "released_at": found.released_at,
        "released_by": found.released_by,
    }


@hold.command("place", epilog=_REFERENCES)
@click.option("--license", "license_ref", metavar="LICENSE", help="Hold this license's data.")
@click.option(
    "--customer", "customer_ref", metavar="CUSTOMER", help="Hold the customer and all its licenses."
)
@click.option("--matter", required=True, help="The legal matter (3-200 characters).")
@click.option(
    "--reason", type=REASON, required=True, help="Why the data must be kept (10-1000 characters)."
)
@click.option(
    "--review-on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="When to review the hold (YYYY-MM-DD): after today, within 5 years.",
)
@json_option
@uses_database
def hold_place(
    license_ref: str | None,
    customer_ref: str | None,
    matter: str,
    reason: str,
    review_on: datetime,
    as_json: bool,
) -> None:
    """Place a legal hold on a license, or on a customer (all of its licenses): retention
    and erasure keep what it covers until it is released. Audited (ids and the review
    date, not the matter or the reason)."""
    if (license_ref is None) == (customer_ref is None):
        raise click.UsageError("give exactly one of --license and --customer")
    now = utcnow()
    if license_ref is not None:
        placed = legal_holds.place(
            session(),
            scope=HoldScope.LICENSE,
            license=licenses.find(session(), license_ref),
            matter=matter,
            reason=reason,
            review_on=review_on.date(),
            actor=actor(),
            now=now,
        )
    else:
        placed = legal_holds.place(
            session(),
            scope=HoldScope.CUSTOMER,
            customer=customers.get_customer(session(), str(customer_ref)),
            matter=matter,
            reason=reason,
            review_on=review_on.date(),
            actor=actor(),
            now=now,
        )
    emit_record(_record(placed, now.date()), as_json=as_json)


@hold.command("release")
@click.argument("hold_id", metavar="HOLD_ID")
@click.option(
    "--reason",
    type=REASON,
    required=True,
    help="Why the data need no longer be kept (10-1000 characters).",
)
@json_option
@uses_database
def hold_release(hold_id: str, reason: str, as_json: bool) -> None:
    """Release a legal hold: retention and erasure then treat its data as they would any
    other. Audited. Under LICENSING_FOUR_EYES a release waits for a second admin in the
    staff console instead."""
    found = legal_holds.find(session(), hold_id, for_update=True)
    legal_holds.check_releasable(found)
    four_eyes = runtime().settings.four_eyes
    if four_eyes:
        # The command follows the deployment's setting, as the console does. It is not a
        # guard against the operator: a shell on the server with the database's
        # credentials can change any row, so four eyes protects the console's staff
        # workflow, and the audit log records who released what.
        raise InvalidTransition(
            "LICENSING_FOUR_EYES is on: releasing a legal hold needs a second admin's "
            f"approval; ask for it on the hold's page in the staff console "
            f"(/staff/holds/{found.id}), and another admin decides it on Approvals "
            "(/staff/approvals)"
        )
    now = utcnow()
    released = legal_holds.release(
        session(), found, reason=reason, actor=actor(), now=now, four_eyes=four_eyes
    )
    emit_record(_record(released, now.date()), as_json=as_json)


@hold.command("list")
@click.option("--all", "include_released", is_flag=True, help="Released holds too.")
@click.option("--due", is_flag=True, help="Only holds in force whose review date has come.")
@json_option
@uses_database
def hold_list(include_released: bool, due: bool, as_json: bool) -> None:
    """List the legal holds in force (the next review first); --all adds the released
    ones, --due shows only the reviews due."""
    if include_released and due:
        raise click.UsageError("choose one of --all and --due (a review is due only in force)")
    today = utcnow().date()
    if due:
        found = legal_holds.reviews_due(session(), today)
    else:
        found = legal_holds.list_holds(session(), include_released=include_released)
    columns = ["id", "scope", "license", "customer_id", "matter", "review_on", "review_due"]
    if include_released:
        columns.append("released_at")
    emit_records([_record(h, today) for h in found], columns, as_json=as_json)
