"""``licensing customer``: the people and companies licenses are issued to."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from licensing.cli import records
from licensing.cli.context import actor, session, uses_database
from licensing.cli.output import emit_record, emit_records, json_option
from licensing.services import customers

customer = AppGroup("customer", help="Customers (the data subjects behind licenses).")


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
@uses_database
def customer_list(as_json: bool) -> None:
    """List customers."""
    rows = [records.customer(c) for c in customers.list_customers(session())]
    emit_records(rows, ["id", "name", "email", "company"], as_json=as_json)
