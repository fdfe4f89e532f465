"""Legal holds: placing one checks what it names, releasing one ends it once, and neither
writes the matter or the reason into the audit log."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import InvalidRequest, InvalidTransition, NotFound
from licensing.models import AuditEvent, Customer, HoldScope, LegalHold, License
from licensing.services import legal_holds
from licensing.services.legal_hold_scope import held_license_ids
from licensing.timeutil import add_months, utcnow
from tests.factories import latest_event, make_customer, make_license

NOW = utcnow().replace(microsecond=0)
TODAY = NOW.date()
MATTER = "Smith v. Example Ltd"
REASON = "litigation notice received from Smith's counsel"
LAST_REVIEW = add_months(NOW, 60).date()


@pytest.fixture
def license(session: Session, sealer: Sealer) -> License:
    return make_license(session, sealer).license


def _place(session: Session, license: License | None, **changes: object) -> LegalHold:
    options: dict[str, object] = {
        "scope": HoldScope.LICENSE,
        "license": license,
        "matter": MATTER,
        "reason": REASON,
        "review_on": TODAY + timedelta(days=90),
        "actor": "test:pytest",
        "now": NOW,
        **changes,
    }
    return legal_holds.place(session, **options)  # type: ignore[arg-type]


def test_a_hold_on_a_license_keeps_it_and_is_audited_without_matter_or_reason(
    session: Session, license: License
) -> None:
    hold = _place(session, license)

    assert (hold.scope, hold.license_id, hold.customer_id) == ("license", license.id, None)
    assert (hold.matter, hold.reason, hold.placed_by) == (MATTER, REASON, "test:pytest")
    assert license.id in set(session.scalars(held_license_ids()))
    event = latest_event(session)
    assert (event.action, event.subject_type, event.subject_id) == (
        "legal_hold.placed",
        "legal_hold",
        str(hold.id),
    )
    assert event.data == {
        "scope": "license",
        "license_id": str(license.id),
        "customer_id": None,
        "case_id": None,
        "review_on": (TODAY + timedelta(days=90)).isoformat(),
    }
    assert "Smith" not in str(event.data)


def test_a_hold_on_a_customer_names_the_customer_only(session: Session, license: License) -> None:
    customer = session.get_one(Customer, license.customer_id)
    hold = _place(session, None, scope=HoldScope.CUSTOMER, customer=customer)
    assert (hold.license_id, hold.customer_id) == (None, customer.id)
    assert license.id in set(session.scalars(held_license_ids()))
    assert legal_holds.holds_on_license(session, license) == [hold]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"matter": "ab"}, "matter must be 3 to 200"),
        ({"matter": "x" * 201}, "matter must be 3 to 200"),
        ({"reason": "too short"}, "reason must be 10 to 1000"),
        ({"reason": "x" * 1001}, "reason must be 10 to 1000"),
        ({"review_on": TODAY}, "after today"),
        ({"review_on": TODAY - timedelta(days=1)}, "after today"),
        ({"review_on": LAST_REVIEW + timedelta(days=1)}, "5 years"),
        ({"scope": "forever"}, "scope must be one of"),
        ({"scope": HoldScope.CUSTOMER}, "names the customer"),
    ],
)
def test_a_hold_out_of_bounds_is_refused_and_nothing_is_kept(
    session: Session, license: License, changes: dict[str, object], message: str
) -> None:
    before = latest_event(session).seq
    with pytest.raises(InvalidRequest, match=message):
        _place(session, license, **changes)
    assert session.scalars(select(LegalHold)).all() == []
    assert latest_event(session).seq == before


def test_a_review_date_five_years_on_is_accepted(session: Session, license: License) -> None:
    assert _place(session, license, review_on=LAST_REVIEW).review_on == LAST_REVIEW


def test_a_hold_on_a_license_that_does_not_exist_is_refused(session: Session) -> None:
    with pytest.raises(NotFound):
        _place(session, License(id=uuid.uuid4()))
    assert session.scalars(select(LegalHold)).all() == []


def test_release_ends_the_hold_once_and_names_no_reason(session: Session, license: License) -> None:
    hold = _place(session, license)
    released = legal_holds.release(
        session,
        hold,
        reason="the claim was settled on 1 March",
        actor="staff:x",
        now=NOW,
        four_eyes=False,
    )
    assert released.released_at == NOW and released.released_by == "staff:x"
    assert released.release_reason == "the claim was settled on 1 March"
    assert license.id not in set(session.scalars(held_license_ids()))
    event = latest_event(session)
    assert event.action == "legal_hold.released" and "settled" not in str(event.data)
    with pytest.raises(InvalidTransition, match="already released"):
        legal_holds.release(
            session, hold, reason="the claim was settled", actor="staff:x", now=NOW, four_eyes=False
        )
    releases = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "legal_hold.released")
    ).all()
    assert len(releases) == 1


def test_under_four_eyes_a_lone_release_is_refused(session: Session, license: License) -> None:
    hold = _place(session, license)
    with pytest.raises(InvalidTransition, match="second admin"):
        legal_holds.release(
            session, hold, reason="the claim was settled", actor="cli:root", now=NOW, four_eyes=True
        )
    assert hold.released_at is None


def test_release_needs_a_reason(session: Session, license: License) -> None:
    hold = _place(session, license)
    with pytest.raises(InvalidRequest, match="reason"):
        legal_holds.release(session, hold, reason=" ", actor="x", now=NOW, four_eyes=False)
    assert hold.released_at is None


def test_lists_in_force_all_and_reviews_due(session: Session, sealer: Sealer) -> None:
    later = _place(session, make_license(session, sealer).license, review_on=TODAY + timedelta(365))
    soon = _place(session, make_license(session, sealer).license, review_on=TODAY + timedelta(1))
    gone = _place(session, make_license(session, sealer).license)
    legal_holds.release(
        session, gone, reason="no longer needed at all", actor="x", now=NOW, four_eyes=False
    )

    assert legal_holds.list_holds(session) == [soon, later]
    assert set(legal_holds.list_holds(session, include_released=True)) == {soon, later, gone}
    assert legal_holds.list_released(session) == [gone]
    assert legal_holds.reviews_due(session, TODAY) == []
    # The day the review comes, and after: due until someone releases (or re-dates) it.
    assert legal_holds.reviews_due(session, TODAY + timedelta(days=1)) == [soon]
    assert legal_holds.reviews_due(session, TODAY + timedelta(days=400)) == [soon, later]
    assert legal_holds.is_review_due(soon, TODAY + timedelta(days=1))
    assert not legal_holds.is_review_due(gone, TODAY + timedelta(days=400))  # released


def test_find_by_id_or_text(session: Session, license: License) -> None:
    hold = _place(session, license)
    assert legal_holds.find(session, str(hold.id)) is hold
    assert legal_holds.find(session, hold.id) is hold
    for wrong in ("not-an-id", str(uuid.uuid4())):
        with pytest.raises(NotFound):
            legal_holds.find(session, wrong)


def test_two_holds_on_one_customer_both_keep_until_both_are_released(
    session: Session, sealer: Sealer
) -> None:
    customer = make_customer(session)
    license = make_license(session, sealer, customer=customer).license
    first = _place(session, None, scope=HoldScope.CUSTOMER, customer=customer)
    second = _place(session, license)
    legal_holds.release(
        session, first, reason="the first matter closed", actor="x", now=NOW, four_eyes=False
    )
    assert license.id in set(session.scalars(held_license_ids()))
    assert legal_holds.holds_on_license(session, license) == [second]
