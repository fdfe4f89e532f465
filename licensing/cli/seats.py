"""``licensing license activations|release-seat|usage``: a license's seats and usage."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from licensing.cli import records
from licensing.cli.context import actor, session, uses_database
from licensing.cli.options import license_reference, license_reference_help, reason_option
from licensing.cli.output import emit_record, emit_records, json_option
from licensing.services import activations, licenses, usage
from licensing.timeutil import utcnow

ACTIVATION_COLUMNS = [
    "id",
    "fingerprint",
    "server_name",
    "product_version",
    "status",
    "activated_at",
    "last_check_in_at",
    "release_reason",
]


@click.command("activations", epilog=license_reference_help)
@license_reference
@json_option
@with_appcontext
@uses_database
def license_activations(reference: str, as_json: bool) -> None:
    """List a license's activations (seats), live and released, oldest first."""
    found = licenses.find(session(), reference)
    rows = [records.activation(a) for a in activations.list_activations(session(), found)]
    emit_records(rows, ACTIVATION_COLUMNS, as_json=as_json)


@click.command(
    "release-seat",
    epilog=f"{license_reference_help} ACTIVATION is an activation id, or a fingerprint.",
)
@license_reference
@click.argument("activation_ref", metavar="ACTIVATION")
@reason_option()
@json_option
@with_appcontext
@uses_database
def license_release_seat(reference: str, activation_ref: str, reason: str, as_json: bool) -> None:
    """Free a seat held by a server that is gone (audited); it must activate again."""
    found = licenses.find(session(), reference)
    released = activations.release_seat(
        session(), found, activation_ref, reason=reason, actor=actor(), now=utcnow()
    )
    emit_record(records.activation(released), as_json=as_json)


@click.command("usage", epilog=license_reference_help)
@license_reference
@click.option(
    "--days",
    default=30,
    show_default=True,
    type=click.IntRange(1, 3660),
    help="Days back from today (UTC), today included.",
)
@json_option
@with_appcontext
@uses_database
def license_usage(reference: str, days: int, as_json: bool) -> None:
    """What a license's instances reported, per day: check-ins, addresses, versions, counters."""
    found = licenses.find(session(), reference)
    rows: list[dict[str, Any]] = [
        {
            "day": summary.day.isoformat(),
            "activations": summary.activations,
            "check_ins": summary.check_ins,
            "addresses": summary.addresses,
            "versions": summary.versions,
            "usage": summary.usage,
        }
        for summary in usage.usage_by_day(session(), found, days=days, now=utcnow())
    ]
    emit_records(
        rows,
        ["day", "activations", "check_ins", "addresses", "versions", "usage"],
        as_json=as_json,
    )
