"""Declaring and ending a misuse exception from a case's page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.misuse.findings import Rule
from licensing.models import License
from licensing.models.misuse import MisuseCase, MisuseException
from licensing.services import misuse_exceptions
from licensing.services.misuse_exceptions import ExceptionKind
from licensing.timeutil import utcnow
from tests.functional.cli.misuse_helpers import audit_actions, open_case
from tests.functional.conftest import MakeLicensed
from tests.functional.console.conftest import MakeStaff, csrf_token, sign_in

REASON = "a failover pair behind one address"


@pytest.fixture
def case(session: Session, make_licensed: MakeLicensed) -> MisuseCase:
    case = open_case(session, make_licensed().license)
    session.commit()
    return case


def _as(client: FlaskClient, make_staff: MakeStaff, role: str) -> None:
    make_staff(role)
    sign_in(client, f"{role}@example.org")


def _exceptions(session: Session, case: MisuseCase) -> list[MisuseException]:
    session.expire_all()
    return list(
        session.scalars(
            select(MisuseException).where(MisuseException.license_id == case.license_id)
        )
    )


def _declare(client: FlaskClient, case: MisuseCase, **fields: str) -> tuple[int, str]:
    page = client.get(f"/staff/misuse/{case.id}")
    form = {
        "kind": "failover_server",
        "until": (utcnow().date() + timedelta(days=30)).isoformat(),
        "reason": REASON,
        "csrf_token": csrf_token(page),
    } | fields
    done = client.post(f"/staff/misuse/{case.id}/exceptions", data=form)
    assert done.headers["Location"].endswith(f"/staff/misuse/{case.id}")
    return done.status_code, client.get(done.headers["Location"]).get_data(as_text=True)


def test_an_analyst_declares_an_exception_from_the_case_page(
    client: FlaskClient, session: Session, make_staff: MakeStaff, case: MisuseCase
) -> None:
    _as(client, make_staff, "analyst")
    page = client.get(f"/staff/misuse/{case.id}").get_data(as_text=True)
    assert 'id="exception-form"' in page
    until = utcnow().date() + timedelta(days=30)

    status, shown = _declare(client, case, kind="nat", until=until.isoformat())

    assert status == 303
    assert "Exception declared" in shown
    [declared] = _exceptions(session, case)
    assert (declared.rule, declared.kind, declared.reason) == (case.rule, "nat", REASON)
    assert declared.ends_at.date() == until  # held to the end of that day (UTC)
    assert declared.ended_at is None
    assert declared.declared_by.startswith("staff:")
    assert "misuse_exception.declared" in audit_actions(session, declared.id)
    assert 'id="exceptions"' in shown and str(declared.id)[:8] in shown


@pytest.mark.parametrize(
    ("fields", "told"),
    [
        ({"kind": "because"}, "Not declared: choose a kind, give the end date and the reason."),
        ({"reason": ""}, "Not declared: choose a kind, give the end date and the reason."),
        ({"until": "next week"}, "Not declared: choose a kind, give the end date and the reason."),
        (
            {"until": (utcnow().date() - timedelta(days=1)).isoformat()},
            "Not declared: the exception must end in the future.",
        ),
        (
            {"until": (utcnow().date() + timedelta(days=400)).isoformat()},
            "Not declared: an exception lasts at most 366 days",
        ),
    ],
)
def test_bad_input_is_a_message_and_declares_nothing(
    client: FlaskClient,
    session: Session,
    make_staff: MakeStaff,
    case: MisuseCase,
    fields: dict[str, str],
    told: str,
) -> None:
    _as(client, make_staff, "analyst")
    status, shown = _declare(client, case, **fields)
    assert status == 303
    assert told in shown
    assert _exceptions(session, case) == []


def _declared(session: Session, case: MisuseCase) -> MisuseException:
    now = utcnow()
    exception = misuse_exceptions.declare(
        session,
        license=_license(session, case),
        rule=Rule(case.rule),
        kind=ExceptionKind.TEST_SERVER,
        reason="a staging box",
        ends_at=now + timedelta(days=10),
        actor="test:pytest",
        now=now,
    )
    session.commit()
    return exception


def _license(session: Session, case: MisuseCase) -> License:
    return session.get_one(License, case.license_id)


def test_an_analyst_ends_an_exception_from_the_case_page(
    client: FlaskClient, session: Session, make_staff: MakeStaff, case: MisuseCase
) -> None:
    exception = _declared(session, case)
    _as(client, make_staff, "analyst")
    page = client.get(f"/staff/misuse/{case.id}")
    assert f"/staff/misuse/{case.id}/exceptions/{exception.id}/end" in page.get_data(as_text=True)

    done = client.post(
        f"/staff/misuse/{case.id}/exceptions/{exception.id}/end",
        data={"csrf_token": csrf_token(page)},
    )

    assert done.status_code == 303
    assert "Exception ended" in client.get(done.headers["Location"]).get_data(as_text=True)
    [ended] = _exceptions(session, case)
    assert ended.ended_at is not None and ended.ended_by is not None
    assert ended.ended_by.startswith("staff:")
    assert "misuse_exception.ended" in audit_actions(session, exception.id)
    # Ended, it no longer applies and is no longer listed on the case.
    assert str(exception.id)[:8] not in client.get(f"/staff/misuse/{case.id}").get_data(
        as_text=True
    )


def test_an_exception_of_another_license_is_not_ended_through_this_case(
    client: FlaskClient,
    session: Session,
    make_staff: MakeStaff,
    make_licensed: MakeLicensed,
    case: MisuseCase,
) -> None:
    elsewhere = open_case(session, make_licensed().license)
    session.commit()
    theirs = _declared(session, elsewhere)
    _as(client, make_staff, "analyst")
    page = client.get(f"/staff/misuse/{case.id}")

    done = client.post(
        f"/staff/misuse/{case.id}/exceptions/{theirs.id}/end",
        data={"csrf_token": csrf_token(page)},
    )

    assert done.status_code == 303
    told = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Not ended: no such exception on this case." in told
    [untouched] = _exceptions(session, elsewhere)
    assert untouched.ended_at is None
    assert "misuse_exception.ended" not in audit_actions(session, theirs.id)


def test_an_exception_of_another_rule_is_not_ended_through_this_case(
    client: FlaskClient, session: Session, make_staff: MakeStaff, case: MisuseCase
) -> None:
    other_rule = open_case(session, _license(session, case), Rule.CLONED_INSTANCE)
    session.commit()
    theirs = _declared(session, other_rule)
    _as(client, make_staff, "analyst")
    page = client.get(f"/staff/misuse/{case.id}")
    done = client.post(
        f"/staff/misuse/{case.id}/exceptions/{theirs.id}/end",
        data={"csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "Not ended: no such exception on this case." in done.get_data(as_text=True)
    session.expire_all()
    assert session.get_one(MisuseException, theirs.id).ended_at is None


def test_ending_an_ended_exception_is_a_message(
    client: FlaskClient, session: Session, make_staff: MakeStaff, case: MisuseCase
) -> None:
    exception = _declared(session, case)
    misuse_exceptions.end(session, exception, actor="test:pytest", now=utcnow())
    session.commit()
    _as(client, make_staff, "analyst")
    page = client.get(f"/staff/misuse/{case.id}")
    done = client.post(
        f"/staff/misuse/{case.id}/exceptions/{exception.id}/end",
        data={"csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "Not ended: this exception has already ended." in done.get_data(as_text=True)


def test_a_viewer_sees_no_exception_forms_and_forged_posts_are_refused(
    client: FlaskClient, session: Session, make_staff: MakeStaff, case: MisuseCase
) -> None:
    exception = _declared(session, case)
    _as(client, make_staff, "viewer")
    page = client.get(f"/staff/misuse/{case.id}").get_data(as_text=True)
    assert 'id="exception-form"' not in page and "End now" not in page
    token = csrf_token(client.get("/staff/"))  # a valid token: the sign-out form's
    declare = client.post(
        f"/staff/misuse/{case.id}/exceptions",
        data={
            "kind": "nat",
            "until": (utcnow().date() + timedelta(days=5)).isoformat(),
            "reason": REASON,
            "csrf_token": token,
        },
    )
    end = client.post(
        f"/staff/misuse/{case.id}/exceptions/{exception.id}/end", data={"csrf_token": token}
    )
    assert (declare.status_code, end.status_code) == (403, 403)
    [only] = _exceptions(session, case)
    assert only.id == exception.id and only.ended_at is None


def test_a_declaration_without_the_csrf_token_is_refused(
    client: FlaskClient, session: Session, make_staff: MakeStaff, case: MisuseCase
) -> None:
    _as(client, make_staff, "analyst")
    refused = client.post(
        f"/staff/misuse/{case.id}/exceptions",
        data={"kind": "nat", "until": utcnow().date().isoformat(), "reason": REASON},
    )
    assert refused.status_code == 400
    assert _exceptions(session, case) == []
