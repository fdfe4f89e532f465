"""``licensing customer``: adding and listing customers."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from licensing.models import Customer
from tests.factories import latest_event, make_customer
from tests.functional.cli.invoke import Licensing, fields, table


def test_customer_add(licensing: Licensing, session: Session) -> None:
    record = fields(
        licensing.ok(
            "customer",
            "add",
            "--name",
            "Ada Lovelace",
            "--email",
            "Ada@Example.com",
            "--company",
            "Analytical Ltd",
        )
    )

    customer = session.get(Customer, uuid.UUID(record["id"]))
    assert customer is not None
    assert (customer.name, customer.email, customer.company) == (
        "Ada Lovelace",
        "ada@example.com",
        "Analytical Ltd",
    )
    assert record["email"] == "ada@example.com"
    assert record["company"] == "Analytical Ltd"
    event = latest_event(session)
    assert (event.action, event.subject_id) == ("customer.added", record["id"])
    assert event.data == {}  # ids only: no personal data in the audit log


def test_customer_add_json_without_a_company(licensing: Licensing, session: Session) -> None:
    added = licensing.json(
        "customer", "add", "--name", "Grace Hopper", "--email", "grace@example.org"
    )

    assert set(added) == {"id", "name", "email", "company", "created_at"}
    assert (added["name"], added["email"], added["company"]) == (
        "Grace Hopper",
        "grace@example.org",
        None,
    )
    assert session.get(Customer, uuid.UUID(added["id"])) is not None


def test_customer_list(licensing: Licensing, session: Session) -> None:
    assert licensing.ok("customer", "list").strip() == "(none)"
    assert licensing.json("customer", "list") == []

    ada = make_customer(session, name="Ada Lovelace", email="ada@example.com")
    grace = make_customer(session, name="Grace Hopper", email="grace@example.org", company=None)

    rows = table(licensing.ok("customer", "list"))
    assert sorted(rows, key=lambda row: row["name"]) == [
        {
            "id": str(ada.id),
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "company": "Analytical Engines Ltd",
        },
        {"id": str(grace.id), "name": "Grace Hopper", "email": "grace@example.org", "company": "-"},
    ]
    listed = {c["id"]: c for c in licensing.json("customer", "list")}
    assert set(listed) == {str(ada.id), str(grace.id)}
    assert listed[str(grace.id)]["company"] is None
