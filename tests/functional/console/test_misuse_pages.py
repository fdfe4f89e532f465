"""The misuse queue and case pages: what each role sees and may do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from licensing.console.views import misuse as misuse_views
from licensing.misuse.findings import Rule
from licensing.models import License, LicenseStatus
from licensing.models.misuse import EscalationStep, MisuseCase
from licensing.services import misuse_case_actions as actions
from licensing.timeutil import utcnow
from tests.functional.cli.misuse_helpers import audit_actions, open_case
from tests.functional.conftest import MakeLicensed
from tests.functional.console.conftest import MakeStaff, csrf_token, sign_in


def _case(
    session: Session, make_licensed: MakeLicensed, rule: Rule = Rule.SERVER_SPREAD
) -> MisuseCase:
    case = open_case(session, make_licensed().license, rule)
    session.commit()
    return case


def _as(client: FlaskClient, make_staff: MakeStaff, role: str) -> None:
    make_staff(role)
    sign_in(client, f"{role}@example.org")


def test_the_queue_filters_and_shows_an_empty_state(
    client: FlaskClient, session: Session, make_staff: MakeStaff, make_licensed: MakeLicensed
) -> None:
    spread = _case(session, make_licensed)
    clone = _case(session, make_licensed, Rule.CLONED_INSTANCE)
    _as(client, make_staff, "viewer")
    page = client.get("/staff/misuse").get_data(as_text=True)
    assert str(spread.id)[:8] in page and str(clone.id)[:8] in page
    only = client.get(f"/staff/misuse?rule={Rule.CLONED_INSTANCE.value}").get_data(as_text=True)
    assert str(clone.id)[:8] in only and str(spread.id)[:8] not in only
    empty = client.get("/staff/misuse?assignee=nobody").get_data(as_text=True)
    assert 'id="no-cases"' in empty and 'id="cases"' not in empty


def test_a_viewer_sees_no_actions_and_a_forged_post_is_refused(
    client: FlaskClient, session: Session, make_staff: MakeStaff, make_licensed: MakeLicensed
) -> None:
    case = _case(session, make_licensed)
    _as(client, make_staff, "viewer")
    page = client.get(f"/staff/misuse/{case.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="evidence"' in body
    assert "<table>" in body  # the servers list laid out as a table
    assert 'class="action"' not in body and "Confirm" not in body
    token = csrf_token(client.get("/staff/"))  # a valid token: the sign-out form's
    forged = client.post(
        f"/staff/misuse/{case.id}/confirm", data={"text": "x", "csrf_token": token}
    )
    assert forged.status_code == 403
    session.refresh(case)
    assert case.status == "open"


def test_an_analyst_confirms_a_case(
    client: FlaskClient, session: Session, make_staff: MakeStaff, make_licensed: MakeLicensed
) -> None:
    case = _case(session, make_licensed)
    _as(client, make_staff, "analyst")
    page = client.get(f"/staff/misuse/{case.id}")
    body = page.get_data(as_text=True)
    assert "Confirm" in body and "Confirm and suspend" not in body
    done = client.post(
        f"/staff/misuse/{case.id}/confirm",
        data={"text": "four servers, one seat", "csrf_token": csrf_token(page)},
    )
    assert done.status_code == 303
    session.expire_all()
    assert session.get(MisuseCase, case.id).status == "confirmed"  # type: ignore[union-attr]
    assert "misuse_case.confirmed" in audit_actions(session, case.id)
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Case confirmed" in shown and "notify customer" in shown


def test_a_refused_step_is_a_message(
    client: FlaskClient, session: Session, make_staff: MakeStaff, make_licensed: MakeLicensed
) -> None:
    case = _case(session, make_licensed)
    _as(client, make_staff, "analyst")
    page = client.get(f"/staff/misuse/{case.id}")
    done = client.post(
        f"/staff/misuse/{case.id}/escalate",
        data={"text": "", "csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "Not done: the case is open" in done.get_data(as_text=True)


def test_an_analyst_may_not_confirm_and_suspend(
    client: FlaskClient, session: Session, make_staff: MakeStaff, make_licensed: MakeLicensed
) -> None:
    case = _case(session, make_licensed)
    _as(client, make_staff, "analyst")
    page = client.get(f"/staff/misuse/{case.id}")
    refused = client.post(
        f"/staff/misuse/{case.id}/confirm-suspend",
        data={"text": "x", "csrf_token": csrf_token(page)},
    )
    assert refused.status_code == 403


def test_admin_confirm_and_suspend_suspends_the_license(
    client: FlaskClient, session: Session, make_staff: MakeStaff, make_licensed: MakeLicensed
) -> None:
    licensed = make_licensed()
    case = open_case(session, licensed.license)
    session.commit()
    _as(client, make_staff, "admin")
    page = client.get(f"/staff/misuse/{case.id}")
    assert "Confirm and suspend" in page.get_data(as_text=True)
    client.post(
        f"/staff/misuse/{case.id}/confirm-suspend",
        data={"text": "plain misuse", "csrf_token": csrf_token(page)},
    )
    session.expire_all()
    session.refresh(licensed.license)
    assert licensed.license.status == LicenseStatus.SUSPENDED


def _due_to_suspend(session: Session, case: MisuseCase) -> None:
    """Confirmed, notified and warned long enough ago that suspending is due now."""
    long_ago = utcnow() - timedelta(days=60)
    actions.confirm(session, case, reason="four hosts", actor="test:pytest", now=long_ago)
    case.escalation_step = EscalationStep.FINAL_NOTICE.value
    case.escalated_at = long_ago
    session.commit()


def test_an_analyst_may_not_take_the_suspend_step(
    client: FlaskClient, session: Session, make_staff: MakeStaff, make_licensed: MakeLicensed
) -> None:
    licensed = make_licensed()
    case = open_case(session, licensed.license)
    _due_to_suspend(session, case)
    _as(client, make_staff, "analyst")
    page = client.get(f"/staff/misuse/{case.id}")
    body = page.get_data(as_text=True)
    assert 'id="admin-step"' in body and "an admin takes this step" in body
    assert "Take the next step" not in body
    refused = client.post(  # the form hidden, the route still refuses it
        f"/staff/misuse/{case.id}/escalate",
        data={"text": "suspending now", "csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "Not done: the next step suspends the license: an admin takes this step" in (
        refused.get_data(as_text=True)
    )
    session.expire_all()
    assert session.get(License, licensed.license.id).status == LicenseStatus.ACTIVE  # type: ignore[union-attr]
    kept = session.get(MisuseCase, case.id)
    assert kept is not None and kept.escalation_step == EscalationStep.FINAL_NOTICE.value
    assert "misuse_case.noted" not in audit_actions(session, case.id)  # the note went too


def test_an_admin_takes_the_suspend_step(
    client: FlaskClient, session: Session, make_staff: MakeStaff, make_licensed: MakeLicensed
) -> None:
    licensed = make_licensed()
    case = open_case(session, licensed.license)
    _due_to_suspend(session, case)
    _as(client, make_staff, "admin")
    page = client.get(f"/staff/misuse/{case.id}")
    body = page.get_data(as_text=True)
    assert "Take the next step" in body and 'id="admin-step"' not in body
    done = client.post(
        f"/staff/misuse/{case.id}/escalate",
        data={"text": "", "csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "Step taken." in done.get_data(as_text=True)
    session.expire_all()
    assert session.get(License, licensed.license.id).status == LicenseStatus.SUSPENDED  # type: ignore[union-attr]
    kept = session.get(MisuseCase, case.id)
    assert kept is not None and kept.escalation_step == EscalationStep.SUSPEND.value


def test_an_analyst_takes_the_steps_before_suspending(
    client: FlaskClient, session: Session, make_staff: MakeStaff, make_licensed: MakeLicensed
) -> None:
    case = _case(session, make_licensed)
    actions.confirm(session, case, reason="four hosts", actor="test:pytest", now=utcnow())
    session.commit()
    _as(client, make_staff, "analyst")
    page = client.get(f"/staff/misuse/{case.id}")
    assert 'id="admin-step"' not in page.get_data(as_text=True)
    done = client.post(
        f"/staff/misuse/{case.id}/escalate",
        data={"text": "", "csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "Step taken." in done.get_data(as_text=True)
    session.expire_all()
    kept = session.get(MisuseCase, case.id)
    assert kept is not None and kept.escalation_step == EscalationStep.NOTIFY_CUSTOMER.value


def test_an_action_without_the_csrf_token_is_refused(
    client: FlaskClient, session: Session, make_staff: MakeStaff, make_licensed: MakeLicensed
) -> None:
    case = _case(session, make_licensed)
    _as(client, make_staff, "analyst")
    refused = client.post(f"/staff/misuse/{case.id}/note", data={"text": "a note"})
    assert refused.status_code in (400, 403)
    assert "misuse_case.noted" not in audit_actions(session, case.id)


def test_the_queue_is_paged(
    client: FlaskClient,
    session: Session,
    make_staff: MakeStaff,
    make_licensed: MakeLicensed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(misuse_views, "PAGE_SIZE", 1)
    ids = {str(_case(session, make_licensed).id)[:8] for _ in range(2)}
    _as(client, make_staff, "viewer")
    first = client.get("/staff/misuse").get_data(as_text=True)
    second = client.get("/staff/misuse?page=2").get_data(as_text=True)
    assert 'rel="next"' in first and 'rel="next"' not in second and 'rel="prev"' in second
    assert {i for i in ids if i in first} | {i for i in ids if i in second} == ids
    assert not {i for i in ids if i in first} & {i for i in ids if i in second}
