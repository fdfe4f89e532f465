"""``licensing customer``: adding and listing customers."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import Conflict, NotFound
from licensing.models import Customer
from licensing.models.base import utcnow
from licensing.services import anonymisation
from tests.factories import latest_event, make_customer, make_license
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


# --- one customer per e-mail address, whatever its case -------------------------------


def test_customer_add_refuses_an_address_another_customer_has(
    licensing: Licensing, session: Session
) -> None:
    ada = make_customer(session, email="ada@example.com")

    error = licensing.fails("customer", "add", "--name", "Ada II", "--email", "ADA@Example.COM")

    assert isinstance(error, Conflict)
    assert error.detail == f"customer {ada.id} already has that e-mail address"
    assert len(session.scalars(select(Customer)).all()) == 1


def test_the_database_refuses_two_customers_with_one_address(session: Session) -> None:
    make_customer(session, email="ada@example.com")

    # Written past the service (as an import script might): the unique index refuses it.
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(Customer(name="Ada II", email="Ada@Example.com"))
        session.flush()


# --- show and update ------------------------------------------------------------------


def test_customer_show_by_id_or_email(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    ada = make_customer(session, name="Ada Lovelace", email="ada@example.com")
    issued = make_license(session, sealer, customer=ada)

    shown = licensing.json("customer", "show", "ADA@example.com")

    assert shown == {
        "id": str(ada.id),
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "company": "Analytical Engines Ltd",
        "created_at": shown["created_at"],
        "licenses": [issued.license.key_id],
    }
    record = fields(licensing.ok("customer", "show", str(ada.id)))
    assert (record["name"], record["licenses"]) == ("Ada Lovelace", issued.license.key_id)
    assert isinstance(licensing.fails("customer", "show", "nobody@example.com"), NotFound)


def test_customer_update_is_audited_by_field_name(licensing: Licensing, session: Session) -> None:
    ada = make_customer(session, name="Ada", email="ada@example.com")

    updated = licensing.json(
        "customer", "update", str(ada.id), "--name", "Ada Lovelace", "--email", "Ada@Lovelace.org"
    )

    assert (updated["name"], updated["email"], updated["company"]) == (
        "Ada Lovelace",
        "ada@lovelace.org",
        "Analytical Engines Ltd",
    )
    session.refresh(ada)
    assert (ada.name, ada.email) == ("Ada Lovelace", "ada@lovelace.org")
    event = latest_event(session)
    assert (event.action, event.subject_id) == ("customer.updated", str(ada.id))
    assert event.data == {"fields": ["email", "name"]}  # never the values: personal data

    cleared = licensing.json("customer", "update", "ada@lovelace.org", "--company", "")
    assert cleared["company"] is None


def test_customer_update_keeps_its_own_address_in_another_case(
    licensing: Licensing, session: Session
) -> None:
    ada = make_customer(session, email="ada@example.com")

    updated = licensing.json("customer", "update", str(ada.id), "--email", "ADA@example.com")

    assert updated["email"] == "ada@example.com"


def test_customer_update_refuses_another_customers_address(
    licensing: Licensing, session: Session
) -> None:
    ada = make_customer(session, email="ada@example.com")
    grace = make_customer(session, email="grace@example.org")

    error = licensing.fails("customer", "update", str(grace.id), "--email", "Ada@example.com")

    assert isinstance(error, Conflict)
    assert str(ada.id) in error.detail
    session.refresh(grace)
    assert grace.email == "grace@example.org"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ((), "give at least one of --name, --email, --company"),
        (("--email", "not-an-address"), "is not an e-mail address"),
        (("--name", " "), "customer name must not be empty"),
    ],
    ids=["nothing to change", "bad address", "blank name"],
)
def test_customer_update_bad_input(
    licensing: Licensing, session: Session, options: tuple[str, ...], message: str
) -> None:
    ada = make_customer(session, email="ada@example.com")

    result = licensing.run("customer", "update", str(ada.id), *options)

    assert result.exit_code != 0
    assert message in (result.output + str(getattr(result.exception, "detail", "")))


def test_customer_update_refuses_an_anonymised_customer(
    licensing: Licensing, session: Session
) -> None:
    ada = make_customer(session, email="ada@example.com")
    anonymisation.anonymise_customer(session, ada, now=utcnow())
    anonymised_email = ada.email

    error = licensing.fails("customer", "update", str(ada.id), "--name", "Ada Lovelace")

    assert isinstance(error, Conflict)
    assert "anonymised on" in error.detail and "nothing to rectify" in error.detail
    session.refresh(ada)
    assert (ada.name, ada.email) == (anonymisation.ANONYMISED_NAME, anonymised_email)
