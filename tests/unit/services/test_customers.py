"""Customers: validated e-mail, looked up by id or e-mail, audited by id only."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from licensing.errors import Conflict, InvalidRequest, NotFound
from licensing.models.base import utcnow
from licensing.services import anonymisation, customers
from tests.factories import latest_event, make_customer


def test_add_customer_normalises_and_audits_ids_only(session: Session, actor: str) -> None:
    customer = customers.add_customer(
        session, name=" Ada ", email=" Ada@Example.COM ", company="  ", actor=actor
    )

    assert (customer.name, customer.email, customer.company) == ("Ada", "ada@example.com", None)
    event = latest_event(session)
    assert (event.action, event.subject_id, event.data) == ("customer.added", str(customer.id), {})


@pytest.mark.parametrize(
    "email", ["", "ada", "ada@", "@example.com", "ada@example", "a da@example.com", "a@b@c.com"]
)
def test_a_bad_email_is_invalid(session: Session, actor: str, email: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        customers.add_customer(session, name="Ada", email=email, company=None, actor=actor)
    assert raised.value.errors == {"email": ["invalid"]}


def test_an_overlong_email_is_invalid(session: Session, actor: str) -> None:
    with pytest.raises(InvalidRequest):
        customers.add_customer(
            session, name="Ada", email="a" * 310 + "@example.com", company=None, actor=actor
        )


def test_an_empty_name_is_invalid(session: Session, actor: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        customers.add_customer(session, name=" ", email="a@example.com", company=None, actor=actor)
    assert set(raised.value.errors) == {"name"}


def test_get_customer_by_id_or_unique_email(session: Session) -> None:
    customer = make_customer(session, email="grace@example.com")
    assert customers.get_customer(session, str(customer.id)) == customer
    assert customers.get_customer(session, "Grace@Example.com") == customer


def test_an_email_belongs_to_one_customer_whatever_its_case(session: Session) -> None:
    first = make_customer(session, email="shared@example.com")
    with pytest.raises(Conflict, match=f"customer {first.id} already has that e-mail address"):
        make_customer(session, email="Shared@Example.com")
    assert customers.get_customer(session, "SHARED@example.com") == first


def test_an_unknown_customer_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound):
        customers.get_customer(session, "nobody@example.com")
    with pytest.raises(NotFound):
        customers.get_customer(session, "00000000-0000-4000-8000-000000000000")


def test_an_anonymised_customer_is_not_updated(session: Session, actor: str) -> None:
    customer = make_customer(session, email="cy@example.com")
    anonymisation.anonymise_customer(session, customer, now=utcnow())
    with pytest.raises(Conflict, match="there is nothing to rectify"):
        customers.update_customer(session, customer, actor=actor, company="Cy Ltd")
    assert customer.company is None
    assert customer.name == anonymisation.ANONYMISED_NAME
