"""``licensing misuse case assign|note|confirm|dismiss|escalate``: each an event in the
case's history and an audit event naming the actor; the ladder ends in a suspension that
the license's next signed check-in answers."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import InvalidRequest, InvalidTransition
from licensing.misuse.findings import Rule
from licensing.models import AuditEvent, License, LicenseStatus
from licensing.models.misuse import MisuseCase, MisuseCaseEvent, MisuseException
from licensing.services import licenses
from licensing.timeutil import utcnow
from tests.factories import make_license
from tests.functional.cli.invoke import Licensing
from tests.functional.cli.misuse_helpers import audit_actions, open_case, spread_evidence
from tests.functional.instance_client import Instance


def kinds(session: Session, case: MisuseCase) -> list[str]:
    return list(
        session.scalars(
            select(MisuseCaseEvent.kind)
            .where(MisuseCaseEvent.case_id == case.id)
            .order_by(MisuseCaseEvent.id)
        )
    )


def last_event(session: Session, case: MisuseCase) -> MisuseCaseEvent:
    return session.scalars(
        select(MisuseCaseEvent)
        .where(MisuseCaseEvent.case_id == case.id)
        .order_by(MisuseCaseEvent.id.desc())
    ).first()  # type: ignore[return-value]


def license_audits(session: Session, lic: License) -> list[int]:
    return list(
        session.scalars(
            select(AuditEvent.seq).where(
                AuditEvent.subject_type == "license", AuditEvent.subject_id == str(lic.id)
            )
        )
    )


def days_ahead(days: int) -> str:
    return (utcnow() + timedelta(days=days)).date().isoformat()


def last_audit(session: Session, case: MisuseCase) -> AuditEvent:
    return session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject_id == str(case.id))
        .order_by(AuditEvent.seq.desc())
    ).first()  # type: ignore[return-value]


def test_assign_and_note(licensing: Licensing, session: Session, sealer: Sealer) -> None:
    case = open_case(session, make_license(session, sealer).license)

    assigned = licensing.json("misuse", "case", "assign", str(case.id), "--to", "alice")
    assert assigned["assignee"] == "alice"
    licensing.ok("misuse", "case", "assign", str(case.id), "--to", "bob")
    licensing.ok("misuse", "case", "note", str(case.id), "--text", "customer runs Kubernetes")

    assert case.assignee == "bob"
    assert kinds(session, case) == ["opened", "assigned", "assigned", "noted"]
    assert audit_actions(session, case.id) == [
        "misuse_case.opened",
        "misuse_case.assigned",
        "misuse_case.assigned",
        "misuse_case.noted",
    ]
    noted = last_audit(session, case)
    assert noted.actor.startswith("cli:")
    assert "Kubernetes" not in str(noted.data)  # the note's text stays in the case history
    handed = session.scalars(
        select(MisuseCaseEvent)
        .where(MisuseCaseEvent.kind == "assigned")
        .order_by(MisuseCaseEvent.id.desc())
    ).first()
    assert handed is not None and handed.detail == {"assignee": "bob", "previous": "alice"}

    assert isinstance(
        licensing.fails("misuse", "case", "assign", str(case.id), "--to", " "), InvalidRequest
    )
    assert isinstance(
        licensing.fails("misuse", "case", "note", str(case.id), "--text", ""), InvalidRequest
    )
    assert licensing.run("misuse", "case", "note", str(case.id)).exit_code == 2  # --text missing


def test_dismiss_keeps_what_it_was_dismissed_on(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    case = open_case(session, lic)

    shown = licensing.json("misuse", "case", "dismiss", str(case.id), "--reason", "renames")

    assert (shown["status"], shown["decision_reason"]) == ("dismissed", "renames")
    assert shown["decided_by"].startswith("cli:")
    assert case.decided_evidence == case.evidence
    assert audit_actions(session, case.id)[-1] == "misuse_case.dismissed"
    audited = last_audit(session, case).data
    assert "reason" not in audited and "renames" not in str(audited)
    assert (audited["reason_given"], audited["reason_length"]) == (True, len("renames"))
    again = licensing.fails("misuse", "case", "dismiss", str(case.id), "--reason", "again")
    assert isinstance(again, InvalidTransition) and "already dismissed" in str(again)
    assert licensing.run("misuse", "case", "dismiss", str(case.id)).exit_code == 2  # no reason
    assert licensing.run("misuse", "case", "dismiss", str(case.id), "--reason", " ").exit_code == 2

    # The same evidence again does not reopen it; a fifth server does.
    open_case(session, lic)
    assert case.status == "dismissed"
    open_case(session, lic, evidence=spread_evidence("s1", "s2", "s3", "s4", "s5"))
    assert case.status == "open"
    assert audit_actions(session, case.id)[-1] == "misuse_case.reopened"


def test_the_ladder_walks_to_a_suspension_the_next_check_in_answers(
    licensing: Licensing, session: Session, instance: Instance
) -> None:
    lic = instance.licensed.license
    assert instance.activate().status == 201
    case = open_case(session, lic, Rule.SERVER_SPREAD)
    escalate = ("misuse", "case", "escalate", str(case.id))

    error = licensing.fails(*escalate)
    assert isinstance(error, InvalidTransition) and "only a confirmed case" in str(error)

    confirmed = licensing.json("misuse", "case", "confirm", str(case.id), "--reason", "4 servers")
    assert confirmed["proposed_step"] == "notify_customer"
    assert confirmed["proposed_due_at"] == confirmed["decided_at"]
    assert lic.status == LicenseStatus.ACTIVE

    notified = licensing.json(*escalate)
    assert notified["escalation_step"] == "notify_customer"
    assert notified["proposed_step"] == "final_notice"
    error = licensing.fails(*escalate)  # the customer has 14 days to answer
    assert isinstance(error, InvalidTransition) and "final_notice is not due until" in str(error)

    case.escalated_at -= timedelta(days=14)  # type: ignore[operator]
    session.flush()
    final = licensing.json(*escalate)
    assert (final["escalation_step"], final["proposed_step"]) == ("final_notice", "suspend")
    assert isinstance(licensing.fails(*escalate), InvalidTransition)
    case.escalated_at -= timedelta(days=14)  # type: ignore[operator]
    session.flush()
    assert instance.check_in().code == "VALID"

    suspended = licensing.json(*escalate)

    assert suspended["escalation_step"] == "suspend"
    assert suspended["proposed_step"] is None
    assert lic.status == LicenseStatus.SUSPENDED
    session.commit()
    assert instance.check_in().code == "SUSPENDED"
    error = licensing.fails(*escalate)
    assert isinstance(error, InvalidTransition) and "the ladder is walked" in str(error)
    assert kinds(session, case)[-4:] == ["confirmed", "escalated", "escalated", "escalated"]
    actions = list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.in_(["misuse_case.escalated", "license.suspended"]))
            .order_by(AuditEvent.seq)
        )
    )
    assert actions == [
        "misuse_case.escalated",
        "misuse_case.escalated",
        "license.suspended",
        "misuse_case.escalated",
    ]
    steps = [
        e.detail["step"]
        for e in session.scalars(select(MisuseCaseEvent).where(MisuseCaseEvent.kind == "escalated"))
    ]
    assert steps == ["notify_customer", "final_notice", "suspend"]


def test_confirm_with_suspend_suspends_in_the_same_action(
    licensing: Licensing, session: Session, instance: Instance
) -> None:
    lic = instance.licensed.license
    assert instance.activate().status == 201
    case = open_case(session, lic, Rule.CLONED_INSTANCE, {"activations": []})

    shown = licensing.json(
        "misuse", "case", "confirm", str(case.id)[:8], "--reason", "cloned VM", "--suspend"
    )

    assert shown["status"] == "confirmed" and shown["escalation_step"] == "suspend"
    assert shown["proposed_step"] is None
    assert lic.status == LicenseStatus.SUSPENDED
    session.commit()
    assert instance.check_in().code == "SUSPENDED"
    assert audit_actions(session, case.id)[-1] == "misuse_case.confirmed"
    assert last_audit(session, case).data["suspended"] is True
    assert isinstance(
        licensing.fails("misuse", "case", "escalate", str(case.id)), InvalidTransition
    )
    again = licensing.fails("misuse", "case", "confirm", str(case.id), "--reason", "x")
    assert isinstance(again, InvalidTransition) and "already confirmed" in str(again)


@pytest.mark.parametrize("how", ["suspend", "revoke"])
def test_confirm_with_suspend_takes_a_license_already_suspended_or_revoked_as_done(
    licensing: Licensing, session: Session, sealer: Sealer, how: str
) -> None:
    lic = make_license(session, sealer).license
    case = open_case(session, lic)
    if how == "suspend":
        licenses.suspend(session, lic, reason="unpaid", actor="test:staff")
    else:
        licenses.revoke(session, lic, reason="unpaid", actor="test:staff", four_eyes=False)
    changed_at = lic.status_changed_at
    before = license_audits(session, lic)

    shown = licensing.json("misuse", "case", "confirm", str(case.id), "--reason", "x", "--suspend")

    status = "suspended" if how == "suspend" else "revoked"
    assert shown["status"] == "confirmed" and shown["escalation_step"] == "suspend"
    assert shown["proposed_step"] is None  # the ladder ends; nothing is left stuck
    assert (lic.status, lic.status_reason, lic.status_changed_at) == (
        status, "unpaid", changed_at
    )  # fmt: skip
    assert license_audits(session, lic) == before  # no second license state change
    event = last_event(session, case)
    assert event.detail["note"] == f"the license was already {status}: its state was not changed"
    assert last_audit(session, case).data["license_already"] == status


@pytest.mark.parametrize("how", ["suspend", "revoke"])
def test_the_suspend_step_is_done_when_the_license_is_already_suspended_or_revoked(
    licensing: Licensing, session: Session, sealer: Sealer, how: str
) -> None:
    lic = make_license(session, sealer).license
    first = open_case(session, lic, Rule.SERVER_SPREAD)
    case = open_case(session, lic, Rule.NETWORK_SPREAD, {"distinct_networks": 5})
    escalate = ("misuse", "case", "escalate", str(case.id))
    licensing.ok("misuse", "case", "confirm", str(case.id), "--reason", "5 networks")
    licensing.ok(*escalate)
    case.escalated_at -= timedelta(days=14)  # type: ignore[operator]
    session.flush()
    licensing.ok(*escalate)
    case.escalated_at -= timedelta(days=14)  # type: ignore[operator]
    session.flush()
    if how == "suspend":  # by the other case of the license
        licensing.ok("misuse", "case", "confirm", str(first.id), "--reason", "x", "--suspend")
    else:  # by staff
        licenses.revoke(session, lic, reason="fraud", actor="test:staff", four_eyes=False)
    status = str(lic.status)
    before = license_audits(session, lic)

    shown = licensing.json(*escalate)

    assert shown["escalation_step"] == "suspend" and shown["proposed_step"] is None
    assert lic.status == status and license_audits(session, lic) == before
    event = last_event(session, case)
    assert (event.kind, event.detail["step"]) == ("escalated", "suspend")
    assert event.detail["note"] == f"the license was already {status}: its state was not changed"
    assert last_audit(session, case).data["license_already"] == status
    error = licensing.fails(*escalate)
    assert isinstance(error, InvalidTransition) and "the ladder is walked" in str(error)


def test_no_reason_or_note_text_reaches_the_audit_log(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    texts = {
        "note": "Jane Doe jane@example.com said the box is hers",
        "dismiss": "dismissed after a call with Max Mustermann",
        "confirm": "confirmed: Erika Musterfrau admitted copying it",
        "exception": "failover at Example GmbH, contact ops@example.com",
    }
    case = open_case(session, lic)
    first_seq = session.scalar(select(func.max(AuditEvent.seq))) or 0
    licensing.ok("misuse", "case", "note", str(case.id), "--text", texts["note"])
    licensing.ok("misuse", "case", "dismiss", str(case.id), "--reason", texts["dismiss"])
    licensing.ok(
        "misuse", "case", "confirm", str(case.id), "--reason", texts["confirm"], "--suspend"
    )
    licensing.ok(
        "misuse", "exception", "add", "--rule", "NETWORK_SPREAD", "--kind", "nat",
        "--reason", texts["exception"], "--until", days_ahead(30), "--", lic.key_id,
    )  # fmt: skip

    written = session.scalars(select(AuditEvent).where(AuditEvent.seq > first_seq)).all()
    assert {e.action for e in written} >= {
        "misuse_case.noted", "misuse_case.dismissed", "misuse_case.confirmed",
        "license.suspended", "misuse_exception.declared",
    }  # fmt: skip
    stored = json.dumps([e.data for e in written])
    for text in texts.values():
        for word in text.split():
            if len(word) > 4 and word not in {"failover"}:
                assert word not in stored, word
    # ... while the case's history and the exception keep them for the reviewer.
    details = json.dumps([e.detail for e in session.scalars(select(MisuseCaseEvent))])
    assert texts["note"] in details and texts["dismiss"] in details
    assert texts["confirm"] in details
    exception = session.scalars(select(MisuseException)).one()
    assert exception.reason == texts["exception"]


def test_a_dismissed_case_is_not_escalated_and_can_still_be_confirmed(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    case = open_case(session, make_license(session, sealer).license)
    licensing.ok("misuse", "case", "dismiss", str(case.id), "--reason", "NAT")
    error = licensing.fails("misuse", "case", "escalate", str(case.id))
    assert isinstance(error, InvalidTransition) and "dismissed" in str(error)

    shown = licensing.json("misuse", "case", "confirm", str(case.id), "--reason", "it was not NAT")
    assert shown["status"] == "confirmed" and shown["proposed_step"] == "notify_customer"


@pytest.mark.parametrize("command", ["assign", "note", "confirm", "dismiss", "escalate"])
def test_an_unknown_case_is_an_error(licensing: Licensing, command: str) -> None:
    extra = {"assign": ["--to", "a"], "note": ["--text", "t"], "confirm": ["--reason", "r"],
             "dismiss": ["--reason", "r"], "escalate": []}[command]  # fmt: skip
    error = licensing.fails("misuse", "case", command, "0123456789abcdef", *extra)
    assert "no case id starts with 0123456789abcdef" in str(error)
