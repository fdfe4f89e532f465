"""Issuing licenses, finding them, and revealing a key: the key itself is never stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import InvalidRequest, MalformedKey, NotFound
from licensing.models import AuditEvent, License, LicenseStatus
from licensing.services import licenses
from tests.factories import latest_event, make_customer, make_edition, make_license

ISSUED = datetime(2024, 1, 31, 9, 30, tzinfo=UTC)


def test_only_key_id_sealed_key_and_hint_are_stored(session: Session, sealer: Sealer) -> None:
    issued = make_license(session, sealer)
    session.commit()
    row = (
        session.execute(
            text("SELECT * FROM licenses WHERE key_id = :kid"), {"kid": issued.key.key_id}
        )
        .mappings()
        .one()
    )

    spellings = {issued.key.normalised, issued.key.display, issued.key.normalised.lower()}
    for column, value in row.items():
        stored = value if isinstance(value, bytes) else str(value).encode()
        for spelling in spellings:
            assert spelling.encode() not in stored, f"the key is readable in column {column}"
    assert row["key_hint"] == issued.key.normalised[-5:]
    opened = sealer.open(row["sealed_key"], table="licenses", row_id=issued.license.id)
    assert opened == issued.key.normalised.encode()


def test_the_audit_log_names_the_key_id_not_the_key(session: Session, sealer: Sealer) -> None:
    issued = make_license(session, sealer)
    event = latest_event(session)
    assert (event.action, event.subject_id) == ("license.issued", str(issued.license.id))
    assert event.data["key_id"] == issued.key.key_id
    for stored in session.scalars(select(AuditEvent)):
        assert issued.key.normalised not in repr(stored.data)


def test_upgrade_protection_defaults_to_twelve_months_from_issue(
    session: Session, sealer: Sealer
) -> None:
    issued = make_license(session, sealer, now=ISSUED)
    license = issued.license
    assert (license.status, license.issued_at, license.expires_at) == ("active", ISSUED, None)
    # 2025-01-31; an edition's own length is used when it has one.
    assert license.upgrade_protection_until == datetime(2025, 1, 31, 9, 30, tzinfo=UTC)
    short = make_edition(session, upgrade_protection_months=1)
    clamped = make_license(session, sealer, edition=short, now=ISSUED).license
    assert clamped.upgrade_protection_until == datetime(2024, 2, 29, 9, 30, tzinfo=UTC)


def test_a_term_edition_sets_the_expiry(session: Session, sealer: Sealer) -> None:
    edition = make_edition(session, term_days=30)
    license = make_license(session, sealer, edition=edition, now=ISSUED).license
    assert license.expires_at == ISSUED + timedelta(days=30)
    assert license.is_expired(ISSUED + timedelta(days=30))
    assert not license.is_expired(ISSUED + timedelta(days=29))


def test_an_expiry_in_the_past_is_invalid(session: Session, sealer: Sealer) -> None:
    with pytest.raises(InvalidRequest, match="future"):
        make_license(session, sealer, now=ISSUED, expires_at=ISSUED - timedelta(days=1))


def test_an_edition_of_another_product_is_refused(
    session: Session, sealer: Sealer, actor: str
) -> None:
    edition, other = make_edition(session), make_edition(session)
    with pytest.raises(InvalidRequest, match="another product"):
        licenses.issue(
            session,
            sealer,
            product=other.product,
            edition=edition,
            customer=make_customer(session),
            actor=actor,
        )


def test_find_by_id_key_id_or_key_in_any_spelling(session: Session, sealer: Sealer) -> None:
    issued = make_license(session, sealer)
    make_license(session, sealer)  # another license, which must not be found instead
    key = issued.key
    for reference in (
        str(issued.license.id),
        key.key_id,
        key.display,
        key.normalised,
        f"  {key.display.lower()}\t",
    ):
        assert licenses.find(session, reference) == issued.license, reference


def test_find_rejects_malformed_keys_and_misses_unknown_ones(session: Session) -> None:
    with pytest.raises(MalformedKey, match="give a license id, key id or license key"):
        licenses.find(session, "not-a-key")
    with pytest.raises(NotFound):
        licenses.find(session, "00000000-0000-4000-8000-000000000000")
    with pytest.raises(NotFound):
        licenses.find(session, "0123456789ABCDEFGHJKMNPQ9")  # well-formed, never issued


def test_reveal_key_opens_the_seal_and_is_audited(
    session: Session, sealer: Sealer, actor: str
) -> None:
    issued = make_license(session, sealer)
    license = session.get(License, issued.license.id)
    assert license is not None

    assert licenses.reveal_key(session, sealer, license, actor=actor) == issued.key
    event = latest_event(session)
    assert (event.action, event.actor) == ("license.key_revealed", actor)
    assert event.data == {"key_id": issued.key.key_id}


def test_list_licenses_filters_by_product_and_status(
    session: Session, sealer: Sealer, actor: str
) -> None:
    first = make_license(session, sealer).license
    second = make_license(session, sealer).license
    licenses.suspend(session, second, reason="unpaid", actor=actor)

    assert set(licenses.list_licenses(session)) == {first, second}
    assert list(licenses.list_licenses(session, product_code=first.product.code)) == [first]
    assert list(licenses.list_licenses(session, status=LicenseStatus.SUSPENDED)) == [second]
    with pytest.raises(InvalidRequest, match="status must be one of"):
        licenses.list_licenses(session, status="lost")
