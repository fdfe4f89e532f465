"""The disclosure log names exactly the fields of the answer sent."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.services import disclosures
from tests.factories import make_license, make_partner

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_the_fields_are_those_of_the_answer_by_section() -> None:
    answer = {"license": {"status": "active", "valid": True}, "upgrade": {"eligible": False}}
    assert disclosures.disclosed_fields(answer) == [
        "license.status",
        "license.valid",
        "upgrade.eligible",
    ]


def test_a_recorded_answer_is_listed_for_its_partner_and_license(
    session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    partner = make_partner(session)
    other = make_partner(session)
    recorded = disclosures.record(
        session,
        partner_id=partner.id,
        partner_key_id="key-1",
        partner_kind=partner.kind,
        license_id=license.id,
        answer={"license": {"code": "VALID"}},
        purpose="license_check",
        request_id="request-1",
        now=NOW,
    )

    assert recorded.fields == ["license.code"]
    assert list(disclosures.list_disclosures(session, partner_id=partner.id)) == [recorded]
    assert list(disclosures.list_disclosures(session, license_id=license.id)) == [recorded]
    assert list(disclosures.list_disclosures(session, partner_id=other.id)) == []
