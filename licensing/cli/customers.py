"""``licensing customer``: the people and companies licenses are issued to."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from licensing.cli import records
from licensing.cli.context import actor, session, uses_database
from licensing.cli.output import emit_record, emit_records, json_option
from licensing.services import customers

customer = AppGroup("customer", help="Customers (the data subjects behind licenses).")

# The tables these commands read and write (customers, licenses, audit_events) look the
# same since 0003: the upgrade to 0004 stops while customers share an address, and asks
# the operator to tell them apart with these very commands.
_TABLES_SINCE = "0003"


@customer.command("add")
@click.option("--name", required=True, help="Contact name.")
@click.option("--email", required=True, help="Contact e-mail.")
@click.option("--company", default=None, help="Company name.")
@json_option
@uses_database
def customer_add(name: str, email: str, company: str | None, as_json: bool) -> None:
    """Add a customer."""
    added = customers.add_customer(
        session(), name=name, email=email, company=company, actor=actor()
    )
    emit_record(records.customer(added), as_json=as_json)


@customer.command("list")
@json_option
@uses_database(runs_from=_TABLES_SINCE)
def customer_list(as_json: bool) -> None:
    """List customers."""
    rows = [records.customer(c) for c in customers.list_customers(session())]
    emit_records(rows, ["id", "name", "email", "company"], as_json=as_json)


@customer.command("show")
@click.argument("reference", metavar="CUSTOMER")
@json_option
@uses_database(runs_from=_TABLES_SINCE)
def customer_show(reference: str, as_json: bool) -> None:
    """Show a customer (by id or e-mail) with the key ids of its licenses."""
    found = customers.get_customer(session(), reference)
    record = records.customer(found)
    record["licenses"] = [lic.key_id for lic in customers.customer_licenses(session(), found)]
    emit_record(record, as_json=as_json)


@customer.command("update")
@click.argument("reference", metavar="CUSTOMER")
@click.option("--name", default=None, help="New contact name.")
@click.option("--email", default=None, help="New contact e-mail (unique, ignoring case).")
@click.option("--company", default=None, help='New company name ("" clears it).')
@json_option
@uses_database(runs_from=_TABLES_SINCE)
def customer_update(
    reference: str, name: str | None, email: str | None, company: str | None, as_json: bool
) -> None:
    """Change a customer's name, e-mail or company (audited: which fields, not values)."""
    if name is None and email is None and company is None:
        raise click.UsageError("give at least one of --name, --email, --company")
    updated = customers.update_customer(
        session(),
        customers.get_customer(session(), reference),
        actor=actor(),
        name=name,
        email=email,
        company=company,
    )
    emit_record(records.customer(updated), as_json=as_json)
