"""``licensing license``: issue, look up, list and change the state of licenses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto import license_keys
from licensing.crypto.sealing import Sealer
from licensing.errors import InvalidRequest, InvalidTransition
from licensing.models import AuditEvent, Customer, Edition, License, Product
from licensing.services.licenses import IssuedLicense
from licensing.timeutil import add_months
from tests.factories import latest_event, make_customer, make_edition, make_license, make_product
from tests.functional.cli.invoke import Licensing, fields, key_with_a_dashed_key_id, table

RECORD_FIELDS = {
    "id",
    "key_id",
    "key_hint",
    "product",
    "edition",
    "customer_id",
    "status",
    "status_reason",
    "issued_at",
    "expires_at",
    "upgrade_protection_until",
    "processing_restricted",
    "activations",
}


@dataclass
class Catalog:
    product: Product
    perpetual: Edition
    term: Edition
    customer: Customer


@pytest.fixture
def catalog(session: Session) -> Catalog:
    product = make_product(session, code="mailserver", name="Mail Server")
    return Catalog(
        product=product,
        perpetual=make_edition(session, product=product, code="standard", max_activations=2),
        term=make_edition(session, product=product, code="yearly", term_days=30),
        customer=make_customer(session, email="ada@example.com"),
    )


@pytest.fixture
def issued(session: Session, sealer: Sealer, catalog: Catalog) -> IssuedLicense:
    return make_license(session, sealer, edition=catalog.perpetual, customer=catalog.customer)


@pytest.fixture
def term_license(session: Session, sealer: Sealer, catalog: Catalog) -> IssuedLicense:
    return make_license(session, sealer, edition=catalog.term, customer=catalog.customer)


def moment(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


def close_to(text: str, expected: datetime) -> bool:
    return abs(moment(text) - expected) < timedelta(minutes=1)


def stored_values(session: Session, license_id: uuid.UUID) -> dict[str, Any]:
    table_ = License.__table__
    row = session.execute(select(table_).where(table_.c.id == license_id)).mappings().one()
    return dict(row)


# --- issue -----------------------------------------------------------------------------


def test_issue_json_prints_the_key_once_with_the_license_id_and_key_id(
    licensing: Licensing, session: Session, catalog: Catalog
) -> None:
    issued = licensing.json(
        "license", "issue",
        "--product", "mailserver",
        "--edition", "standard",
        "--customer", "ADA@example.com",
    )  # fmt: skip

    assert set(issued) == RECORD_FIELDS | {"license_key"}
    key = license_keys.parse(issued["license_key"])
    assert issued["license_key"] == key.display  # five dash-separated groups of five
    assert issued["key_id"] == key.key_id
    assert issued["key_hint"] == key.normalised[-5:]
    assert issued["product"] == "mailserver"
    assert issued["edition"] == "standard"
    assert issued["customer_id"] == str(catalog.customer.id)
    assert (issued["status"], issued["status_reason"]) == ("active", None)
    assert issued["activations"] == {"used": 0, "allowed": 2}
    assert issued["expires_at"] is None  # perpetual edition
    assert close_to(issued["issued_at"], datetime.now(UTC))
    assert moment(issued["upgrade_protection_until"]) == add_months(moment(issued["issued_at"]), 12)
    assert issued["processing_restricted"] is False

    stored = session.get(License, uuid.UUID(issued["id"]))
    assert stored is not None
    assert stored.key_id == key.key_id
    event = latest_event(session)
    assert (event.action, event.subject_id) == ("license.issued", issued["id"])
    assert event.data == {"key_id": key.key_id, "product": "mailserver", "edition": "standard"}


def test_the_issued_key_is_stored_in_no_column_in_clear(
    licensing: Licensing, session: Session, catalog: Catalog
) -> None:
    issued = licensing.json(
        "license", "issue", "--product", "mailserver", "--edition", "standard",
        "--customer", str(catalog.customer.id),
    )  # fmt: skip
    key = license_keys.parse(issued["license_key"])
    spellings = {key.normalised, key.display, key.normalised.lower(), key.display.lower()}

    values = stored_values(session, uuid.UUID(issued["id"]))
    assert values["key_id"] == key.key_id
    assert values["key_hint"] == key.normalised[-5:]  # the last five symbols only
    for column, value in values.items():
        if isinstance(value, bytes | bytearray | memoryview):
            raw = bytes(value)
            for spelling in spellings:
                assert spelling.encode("ascii") not in raw, f"key in clear in {column}"
        else:
            for spelling in spellings:
                assert spelling not in str(value), f"key in clear in {column}"
    # Nor in the audit log.
    for event in session.scalars(select(AuditEvent)):
        assert key.normalised not in str(event.data)


def test_issue_prints_the_record_and_the_key(
    licensing: Licensing, session: Session, catalog: Catalog
) -> None:
    output = licensing.ok(
        "license", "issue", "--product", "mailserver", "--edition", "yearly",
        "--customer", "ada@example.com",
    )  # fmt: skip

    record = fields(output)
    assert set(record) == RECORD_FIELDS | {"license_key"}
    key = license_keys.parse(record["license_key"])
    assert record["key_id"] == key.key_id
    assert record["activations"] == "used=0 allowed=1"
    assert close_to(
        record["expires_at"], datetime.now(UTC) + timedelta(days=30)
    )  # the edition's term
    assert output.count(key.display) == 1


def test_issue_with_explicit_expiry_and_protection(
    licensing: Licensing, session: Session, catalog: Catalog
) -> None:
    issued = licensing.json(
        "license", "issue", "--product", "mailserver", "--edition", "yearly",
        "--customer", "ada@example.com",
        "--expires", "2040-01-31",
        "--upgrade-protection-until", "2039-06-30T12:00:00Z",
    )  # fmt: skip

    assert issued["expires_at"] == "2040-01-31T00:00:00Z"
    assert issued["upgrade_protection_until"] == "2039-06-30T12:00:00Z"


# --- show ------------------------------------------------------------------------------


def test_show_finds_a_license_by_id_key_id_and_key_in_any_spelling(
    licensing: Licensing, issued: IssuedLicense
) -> None:
    key = issued.key
    expected = licensing.json("license", "show", str(issued.license.id))

    assert set(expected) == RECORD_FIELDS  # the key is not shown without --reveal-key
    assert expected["id"] == str(issued.license.id)
    assert expected["key_id"] == key.key_id
    assert expected["activations"] == {"used": 0, "allowed": 2}
    for reference in (
        key.key_id,
        key.display,
        key.display.lower(),
        key.normalised,
        f"  {key.display}  ",
    ):
        assert licensing.json("license", "show", "--", reference) == expected, reference


def test_a_key_id_starting_with_a_dash_goes_after_double_dash(
    licensing: Licensing, monkeypatch: pytest.MonkeyPatch, catalog: Catalog
) -> None:
    # One key id in 64 starts with '-' (base64url), which click takes for an option.
    key = key_with_a_dashed_key_id()
    monkeypatch.setattr(license_keys, "generate", lambda: key)
    issued = licensing.json(
        "license", "issue", "--product", "mailserver", "--edition", "standard",
        "--customer", "ada@example.com",
    )  # fmt: skip
    assert issued["key_id"] == key.key_id

    assert licensing.run("license", "show", key.key_id).exit_code == 2  # "No such option"
    shown = licensing.json("license", "show", "--", key.key_id)
    assert shown["id"] == issued["id"]


def test_show_text_does_not_print_the_key(licensing: Licensing, issued: IssuedLicense) -> None:
    output = licensing.ok("license", "show", issued.key.display)

    record = fields(output)
    assert record["id"] == str(issued.license.id)
    assert record["status"] == "active"
    assert "license_key" not in record
    assert issued.key.display not in output
    assert issued.key.normalised not in output


def test_show_reveal_key_prints_the_key_and_audits_it(
    licensing: Licensing, session: Session, issued: IssuedLicense
) -> None:
    shown = licensing.json("license", "show", "--reveal-key", "--", issued.key.key_id)

    assert shown["license_key"] == issued.key.display
    event = latest_event(session)
    assert event.action == "license.key_revealed"
    assert event.subject_id == str(issued.license.id)
    assert event.data == {"key_id": issued.key.key_id}
    assert event.actor.startswith("cli:")

    record = fields(licensing.ok("license", "show", str(issued.license.id), "--reveal-key"))
    assert record["license_key"] == issued.key.display
    revealed = select(AuditEvent).where(AuditEvent.action == "license.key_revealed")
    assert len(session.scalars(revealed).all()) == 2


def test_show_without_reveal_writes_no_audit_event(
    licensing: Licensing, session: Session, issued: IssuedLicense
) -> None:
    before = latest_event(session).seq
    licensing.ok("license", "show", str(issued.license.id))
    assert latest_event(session).seq == before


# --- list ------------------------------------------------------------------------------


def test_list_filters_by_product_and_status(
    licensing: Licensing, session: Session, sealer: Sealer, catalog: Catalog
) -> None:
    assert licensing.ok("license", "list").strip() == "(none)"
    first = make_license(session, sealer, edition=catalog.perpetual, customer=catalog.customer)
    second = make_license(session, sealer, edition=catalog.term, customer=catalog.customer)
    other = make_license(session, sealer)  # another product
    suspended = fields(
        licensing.ok("license", "suspend", str(second.license.id), "--reason", "unpaid")
    )
    assert (suspended["status"], suspended["status_reason"]) == ("suspended", "unpaid")

    everything = licensing.json("license", "list")
    assert {row["id"] for row in everything} == {
        str(first.license.id),
        str(second.license.id),
        str(other.license.id),
    }
    assert all("license_key" not in row for row in everything)

    mailserver = licensing.json("license", "list", "--product", "mailserver")
    assert {row["id"] for row in mailserver} == {str(first.license.id), str(second.license.id)}

    suspended = licensing.json("license", "list", "--status", "suspended")
    assert [row["id"] for row in suspended] == [str(second.license.id)]

    both = licensing.json("license", "list", "--product", "mailserver", "--status", "active")
    assert [row["id"] for row in both] == [str(first.license.id)]

    assert licensing.json("license", "list", "--status", "revoked") == []
    assert licensing.ok("license", "list", "--status", "revoked").strip() == "(none)"

    rows = table(licensing.ok("license", "list", "--product", "mailserver"))
    assert {(row["id"], row["key_id"], row["edition"], row["status"]) for row in rows} == {
        (str(first.license.id), first.key.key_id, "standard", "active"),
        (str(second.license.id), second.key.key_id, "yearly", "suspended"),
    }
    assert set(rows[0]) == {
        "id",
        "key_id",
        "product",
        "edition",
        "status",
        "expires_at",
        "upgrade_protection_until",
    }


# --- state changes ---------------------------------------------------------------------


def test_suspend_reinstate_revoke_with_reasons(
    licensing: Licensing, session: Session, issued: IssuedLicense
) -> None:
    reference = issued.key.display

    suspended = licensing.json("license", "suspend", reference, "--reason", "invoice overdue")
    assert (suspended["status"], suspended["status_reason"]) == ("suspended", "invoice overdue")
    event = latest_event(session)
    assert (event.action, event.subject_id) == ("license.suspended", str(issued.license.id))
    assert event.data == {"from": "active", "to": "suspended", "reason": "invoice overdue"}

    reinstated = fields(licensing.ok("license", "reinstate", reference, "--reason", "paid"))
    assert (reinstated["status"], reinstated["status_reason"]) == ("active", "paid")
    assert latest_event(session).data == {"from": "suspended", "to": "active", "reason": "paid"}

    revoked = licensing.json(
        "license", "revoke", "--reason", "refunded", "--yes", "--", issued.key.key_id
    )
    assert (revoked["status"], revoked["status_reason"]) == ("revoked", "refunded")
    assert revoked["activations"] == {"used": 0, "allowed": 2}
    assert latest_event(session).action == "license.revoked"

    session.refresh(issued.license)
    assert issued.license.status == "revoked"


def test_reinstate_without_a_reason(
    licensing: Licensing, session: Session, issued: IssuedLicense
) -> None:
    licensing.ok("license", "suspend", str(issued.license.id), "--reason", "checking")

    reinstated = licensing.json("license", "reinstate", str(issued.license.id))

    assert (reinstated["status"], reinstated["status_reason"]) == ("active", None)


def test_state_changes_the_current_state_does_not_allow(
    licensing: Licensing, issued: IssuedLicense
) -> None:
    reference = str(issued.license.id)
    error = licensing.fails("license", "reinstate", reference)
    assert isinstance(error, InvalidTransition)
    assert error.detail == "cannot reinstate a license that is active"

    revoked = fields(licensing.ok("license", "revoke", reference, "--reason", "fraud", "--yes"))
    assert (revoked["status"], revoked["status_reason"]) == ("revoked", "fraud")
    for command in ("suspend", "revoke"):
        error = licensing.fails("license", command, reference, "--reason", "again")
        assert isinstance(error, InvalidTransition)
        assert "revoked" in error.detail


# --- renew -----------------------------------------------------------------------------


def test_renew_early_adds_months_to_the_current_end(
    licensing: Licensing, session: Session, issued: IssuedLicense
) -> None:
    previous = issued.license.upgrade_protection_until
    assert previous is not None

    renewed = licensing.json("license", "renew", str(issued.license.id), "--months", "3")

    session.refresh(issued.license)
    assert issued.license.upgrade_protection_until == add_months(previous, 3)
    assert moment(renewed["upgrade_protection_until"]) == add_months(previous, 3).replace(
        microsecond=0
    )
    event = latest_event(session)
    assert event.action == "license.protection_renewed"
    assert event.data["from"] == previous.isoformat()


def test_renew_defaults_to_the_editions_length_and_starts_today_when_late(
    licensing: Licensing, session: Session, sealer: Sealer, catalog: Catalog
) -> None:
    lapsed = make_license(
        session,
        sealer,
        edition=catalog.perpetual,
        upgrade_protection_until=datetime(2020, 5, 1, tzinfo=UTC),
    )

    record = fields(licensing.ok("license", "renew", lapsed.key.display))

    # Lapsed: the edition's twelve months run from today, not from the old end.
    assert close_to(record["upgrade_protection_until"], add_months(datetime.now(UTC), 12))


def test_renew_until_a_date(licensing: Licensing, session: Session, issued: IssuedLicense) -> None:
    renewed = licensing.json("license", "renew", "--until", "2045-12-31", "--", issued.key.key_id)

    assert renewed["upgrade_protection_until"] == "2045-12-31T00:00:00Z"
    session.refresh(issued.license)
    assert issued.license.upgrade_protection_until == datetime(2045, 12, 31, tzinfo=UTC)


def test_renew_refuses_months_and_until_together(
    licensing: Licensing, issued: IssuedLicense
) -> None:
    error = licensing.fails(
        "license", "renew", str(issued.license.id), "--months", "1", "--until", "2045-01-01"
    )
    assert isinstance(error, InvalidRequest)
    assert "not both" in error.detail


# --- extend ----------------------------------------------------------------------------


def test_extend_by_days_from_the_current_expiry(
    licensing: Licensing, session: Session, term_license: IssuedLicense
) -> None:
    previous = term_license.license.expires_at
    assert previous is not None

    extended = licensing.json("license", "extend", str(term_license.license.id), "--days", "10")

    session.refresh(term_license.license)
    assert term_license.license.expires_at == previous + timedelta(days=10)
    assert moment(extended["expires_at"]) == (previous + timedelta(days=10)).replace(microsecond=0)
    event = latest_event(session)
    assert event.action == "license.term_extended"
    assert event.data["from"] == previous.isoformat()


def test_extend_until_a_date(
    licensing: Licensing, session: Session, term_license: IssuedLicense
) -> None:
    record = fields(
        licensing.ok("license", "extend", term_license.key.display, "--until", "2041-02-28")
    )

    assert record["expires_at"] == "2041-02-28T00:00:00Z"
    session.refresh(term_license.license)
    assert term_license.license.expires_at == datetime(2041, 2, 28, tzinfo=UTC)


def test_extend_needs_exactly_one_of_days_or_until_and_a_term(
    licensing: Licensing, issued: IssuedLicense, term_license: IssuedLicense
) -> None:
    neither = licensing.fails("license", "extend", str(term_license.license.id))
    both = licensing.fails(
        "license", "extend", str(term_license.license.id), "--days", "1", "--until", "2041-01-01"
    )
    for error in (neither, both):
        assert isinstance(error, InvalidRequest)
        assert error.detail == "give exactly one of --days or --until"

    perpetual = licensing.fails("license", "extend", str(issued.license.id), "--days", "5")
    assert isinstance(perpetual, InvalidTransition)
    assert "perpetual" in perpetual.detail


def test_revoke_asks_first_and_a_no_changes_nothing(
    licensing: Licensing, session: Session, issued: IssuedLicense
) -> None:
    reference = str(issued.license.id)

    declined = licensing.run("license", "revoke", reference, "--reason", "fraud", input="n\n")
    assert declined.exit_code == 1
    assert f"Revoke license {issued.key.key_id} for good?" in declined.stderr
    assert "not confirmed; nothing was changed" in declined.stderr
    session.refresh(issued.license)
    assert issued.license.status == "active"

    no_answer = licensing.run("license", "revoke", reference, "--reason", "fraud", input="")
    assert no_answer.exit_code == 1
    assert "pass --yes" in no_answer.stderr
    session.refresh(issued.license)
    assert issued.license.status == "active"

    revoked = licensing.json("license", "revoke", reference, "--reason", "fraud", input="y\n")
    assert revoked["status"] == "revoked"
    assert latest_event(session).action == "license.revoked"


def test_revoking_a_revoked_license_fails_before_asking(
    licensing: Licensing, issued: IssuedLicense
) -> None:
    reference = str(issued.license.id)
    licensing.ok("license", "revoke", reference, "--reason", "fraud", "--yes")

    result = licensing.run("license", "revoke", reference, "--reason", "again", input="y\n")

    assert isinstance(result.exception, InvalidTransition)
    assert "Revoke license" not in result.stderr


@pytest.mark.parametrize("reason", ["", "   ", "\t"], ids=["empty", "spaces", "tab"])
@pytest.mark.parametrize("command", ["suspend", "reinstate", "revoke"])
def test_a_reason_cannot_be_blank(
    licensing: Licensing, session: Session, issued: IssuedLicense, command: str, reason: str
) -> None:
    events = len(session.scalars(select(AuditEvent)).all())

    result = licensing.run("license", command, str(issued.license.id), "--reason", reason)

    assert result.exit_code == 2
    assert "Invalid value for '--reason': must not be empty" in result.output
    assert len(session.scalars(select(AuditEvent)).all()) == events


def test_a_reason_is_kept_without_its_surrounding_blanks(
    licensing: Licensing, session: Session, issued: IssuedLicense
) -> None:
    suspended = licensing.json("license", "suspend", str(issued.license.id), "--reason", " late ")

    assert suspended["status_reason"] == "late"
    assert latest_event(session).data["reason"] == "late"
