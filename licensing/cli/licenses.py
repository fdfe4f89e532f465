"""``licensing license``: issue licenses and change their state."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from licensing.cli import records, seats
from licensing.cli.context import UTC_DATE, actor, runtime, session, uses_database
from licensing.cli.options import confirm, reason_option, yes_option
from licensing.cli.options import license_reference as reference
from licensing.cli.options import license_reference_help as reference_help
from licensing.cli.output import emit_record, emit_records, json_option
from licensing.errors import InvalidRequest, InvalidTransition
from licensing.models import License, LicenseStatus
from licensing.services import catalog, customers, licenses
from licensing.services import seats as license_seats

license = AppGroup("license", help="Issue licenses, look them up, change their state.")


def _show(lic: License, *, as_json: bool) -> None:
    used = license_seats.in_use(session(), lic.id)
    emit_record(records.license(lic, activations_used=used), as_json=as_json)


@license.command("issue")
@click.option("--product", "product_code", required=True, help="Product code.")
@click.option("--edition", "edition_code", required=True, help="Edition code.")
@click.option("--customer", "customer_ref", required=True, help="Customer id or e-mail.")
@click.option("--expires", type=UTC_DATE, help="Expiry (default: the edition's term, if any).")
@click.option(
    "--upgrade-protection-until",
    type=UTC_DATE,
    help="End of upgrade protection (default: the edition's length from today).",
)
@json_option
@uses_database
def license_issue(
    product_code: str,
    edition_code: str,
    customer_ref: str,
    expires: datetime | None,
    upgrade_protection_until: datetime | None,
    as_json: bool,
) -> None:
    """Issue a license and print its key: the only time the key is shown in full."""
    db = session()
    issued = licenses.issue(
        db,
        runtime().sealer,
        product=catalog.get_product(db, product_code),
        edition=catalog.get_edition(db, product_code, edition_code),
        customer=customers.get_customer(db, customer_ref),
        actor=actor(),
        expires_at=expires,
        upgrade_protection_until=upgrade_protection_until,
    )
    record = records.license(issued.license, activations_used=0)
    record["license_key"] = issued.key.display
    emit_record(record, as_json=as_json)


@license.command("show", epilog=reference_help)
@reference
@click.option("--reveal-key", is_flag=True, help="Also print the key (audited), to re-send it.")
@json_option
@uses_database
def license_show(reference: str, reveal_key: bool, as_json: bool) -> None:
    """Show one license."""
    found = licenses.find(session(), reference)
    used = license_seats.in_use(session(), found.id)
    record = records.license(found, activations_used=used)
    if reveal_key:
        key = licenses.reveal_key(session(), runtime().sealer, found, actor=actor())
        record["license_key"] = key.display
    emit_record(record, as_json=as_json)


@license.command("list")
@click.option("--product", "product_code", help="Only this product's licenses.")
@click.option(
    "--status", type=click.Choice([s.value for s in LicenseStatus]), help="Only this status."
)
@json_option
@uses_database
def license_list(product_code: str | None, status: str | None, as_json: bool) -> None:
    """List licenses, oldest first."""
    if product_code is not None:
        catalog.get_product(session(), product_code)  # an unknown product is an error, not "(none)"
    rows = [
        records.license(lic)
        for lic in licenses.list_licenses(session(), product_code=product_code, status=status)
    ]
    emit_records(
        rows,
        ["id", "key_id", "product", "edition", "status", "expires_at", "upgrade_protection_until"],
        as_json=as_json,
    )


@license.command("suspend", epilog=reference_help)
@reference
@reason_option()
@json_option
@uses_database
def license_suspend(reference: str, reason: str, as_json: bool) -> None:
    """Suspend a license: its instances stop verifying until it is reinstated."""
    found = licenses.suspend(
        session(), licenses.find(session(), reference), reason=reason, actor=actor()
    )
    _show(found, as_json=as_json)


@license.command("reinstate", epilog=reference_help)
@reference
@reason_option(required=False)
@json_option
@uses_database
def license_reinstate(reference: str, reason: str | None, as_json: bool) -> None:
    """Reinstate a suspended license."""
    found = licenses.reinstate(
        session(), licenses.find(session(), reference), reason=reason or "", actor=actor()
    )
    _show(found, as_json=as_json)


@license.command("revoke", epilog=reference_help)
@reference
@reason_option()
@yes_option
@json_option
@uses_database
def license_revoke(reference: str, reason: str, yes: bool, as_json: bool) -> None:
    """Revoke a license for good (cannot be undone); asks first unless --yes."""
    found = licenses.find(session(), reference)
    licenses.check_revocable(found)
    four_eyes = runtime().settings.four_eyes
    if four_eyes:
        # Nobody revokes alone under four eyes, not even from a shell on the server; said
        # here, before the prompt, with where to ask (the service refuses it too).
        raise InvalidTransition(
            "LICENSING_FOUR_EYES is on: a revocation needs a second admin's approval; "
            f"ask for it on the license's page in the staff console (/staff/licenses/{found.id})"
        )
    confirm(f"Revoke license {found.key_id} for good? This cannot be undone.", yes=yes)
    revoked = licenses.revoke(session(), found, reason=reason, actor=actor(), four_eyes=four_eyes)
    _show(revoked, as_json=as_json)


@license.command("renew", epilog=reference_help)
@reference
@click.option(
    "--months", type=click.IntRange(1, 1200), help="Months to add (default: the edition's length)."
)
@click.option("--until", type=UTC_DATE, help="New end of upgrade protection.")
@json_option
@uses_database
def license_renew(
    reference: str, months: int | None, until: datetime | None, as_json: bool
) -> None:
    """Renew upgrade protection: from its current end if renewed early, else from today."""
    if months is not None and until is not None:
        raise InvalidRequest("give --months or --until, not both")
    found = licenses.renew_upgrade_protection(
        session(), licenses.find(session(), reference), actor=actor(), months=months, until=until
    )
    _show(found, as_json=as_json)


@license.command("extend", epilog=reference_help)
@reference
@click.option("--days", type=click.IntRange(1, 36_500), help="Days to add to the term.")
@click.option("--until", type=UTC_DATE, help="New expiry.")
@json_option
@uses_database
def license_extend(reference: str, days: int | None, until: datetime | None, as_json: bool) -> None:
    """Extend a term license's expiry."""
    if (days is None) == (until is None):
        raise InvalidRequest("give exactly one of --days or --until")
    found = licenses.extend_term(
        session(), licenses.find(session(), reference), actor=actor(), days=days, until=until
    )
    _show(found, as_json=as_json)


for _seat_command in (seats.license_activations, seats.license_release_seat, seats.license_usage):
    license.add_command(_seat_command)
