"""A confirmed misuse case places a legal hold on its evidence, once per case, and says so."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.misuse.findings import Rule
from licensing.models import LegalHold
from licensing.models.misuse import MisuseCaseEvent
from licensing.services import legal_holds
from licensing.services import misuse_case_actions as actions
from licensing.services.case_evidence_hold import case_hold
from licensing.services.legal_hold_scope import held_license_ids
from licensing.timeutil import add_months, utcnow
from tests.factories import make_license
from tests.functional.cli.misuse_helpers import open_case

NOW = utcnow().replace(microsecond=0)


def _holds(session: Session) -> list[LegalHold]:
    return list(session.scalars(select(LegalHold)))


def _events(session: Session, case_id: object, kind: str) -> list[MisuseCaseEvent]:
    return list(
        session.scalars(
            select(MisuseCaseEvent)
            .where(MisuseCaseEvent.case_id == case_id, MisuseCaseEvent.kind == kind)
            .order_by(MisuseCaseEvent.id)
        )
    )


def test_confirming_places_a_hold_on_the_license_for_six_months(
    session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    case = open_case(session, license)
    assert _holds(session) == []

    actions.confirm(session, case, reason="four hosts", actor="staff:a", now=NOW)

    [hold] = _holds(session)
    assert (hold.scope, hold.license_id, hold.case_id) == ("license", license.id, case.id)
    assert hold.matter == f"Confirmed misuse case: {case.rule}"
    assert hold.review_on == add_months(NOW, 6).date()
    assert hold.placed_by == "staff:a"
    assert license.id in set(session.scalars(held_license_ids()))
    [confirmed] = _events(session, case.id, "confirmed")
    assert confirmed.detail["legal_hold_id"] == str(hold.id)
    assert confirmed.detail["legal_hold_placed"] is True
    held = case_hold(session, case)
    assert held is not None and held.placed
    assert str(hold.id) in held.message() and "now keeps" in held.message()


def test_a_case_confirmed_again_does_not_stack_holds(session: Session, sealer: Sealer) -> None:
    case = open_case(session, make_license(session, sealer).license)
    actions.confirm(session, case, reason="four hosts", actor="staff:a", now=NOW)
    actions.dismiss(session, case, reason="failover", actor="staff:b", now=NOW + timedelta(1))
    actions.confirm(session, case, reason="really four", actor="staff:c", now=NOW + timedelta(2))

    [hold] = _holds(session)
    first, again = _events(session, case.id, "confirmed")
    assert again.detail["legal_hold_id"] == first.detail["legal_hold_id"] == str(hold.id)
    assert again.detail["legal_hold_placed"] is False
    held = case_hold(session, case)
    assert held is not None and not held.placed
    assert "placed when it was first confirmed" in held.message()


def test_a_released_case_hold_is_not_placed_again(session: Session, sealer: Sealer) -> None:
    case = open_case(session, make_license(session, sealer).license)
    actions.confirm(session, case, reason="four hosts", actor="staff:a", now=NOW)
    [hold] = _holds(session)
    legal_holds.release(
        session, hold, reason="the vendor dropped the claim", actor="x", now=NOW, four_eyes=False
    )
    actions.dismiss(session, case, reason="failover", actor="staff:b", now=NOW + timedelta(1))
    actions.confirm(session, case, reason="really four", actor="staff:c", now=NOW + timedelta(2))
    assert _holds(session) == [hold]
    assert _events(session, case.id, "confirmed")[-1].detail["legal_hold_in_force"] is False


def test_each_case_of_a_license_has_its_own_hold(session: Session, sealer: Sealer) -> None:
    license = make_license(session, sealer).license
    first = open_case(session, license)
    second = open_case(session, license, Rule.NETWORK_SPREAD)
    actions.confirm(session, first, reason="four hosts", actor="staff:a", now=NOW)
    actions.confirm(session, second, reason="nine networks", actor="staff:a", now=NOW)
    assert {h.case_id for h in _holds(session)} == {first.id, second.id}
