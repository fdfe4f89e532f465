"""Anonymising a customer replaces every personal column the register names for it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.privacy.categories import CategoryCode
from licensing.privacy.register import columns_of
from licensing.services.anonymisation import anonymise_customer, is_anonymised
from tests.factories import make_customer, make_license

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_every_personal_column_of_the_customer_and_license_is_replaced(
    session: Session, sealer: Sealer
) -> None:
    customer = make_customer(session)
    license = make_license(session, sealer, customer=customer).license
    license.status_reason = f"suspended after a call with {customer.name}"
    before = {"name": customer.name, "email": customer.email, "company": customer.company}
    session.flush()

    anonymise_customer(session, customer, now=NOW)
    session.refresh(license)

    assert is_anonymised(customer)
    personal = {
        c.column for c in columns_of(CategoryCode.LICENSE_AND_CUSTOMER) if c.table == "customers"
    }
    for column in personal:
        assert getattr(customer, column) != before[column]
    assert customer.email.endswith(".invalid")
    assert license.status_reason is None
