"""``licensing misuse case assign|note|confirm|dismiss|escalate``: each an event in the
case's history and an audit event naming the actor; the ladder ends in a suspension that
the license's next signed check-in answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import InvalidRequest, InvalidTransition
from licensing.misuse.findings import Rule
from licensing.models import AuditEvent, LicenseStatus
from licensing.models.misuse import MisuseCase, MisuseCaseEvent
from licensing.services import licenses
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
    assert last_audit(session, case).data["reason"] == "renames"
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


def test_confirm_with_suspend_refuses_a_license_that_is_not_active_and_changes_nothing(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    case = open_case(session, lic)
    licenses.suspend(session, lic, reason="unpaid", actor="test:staff")

    error = licensing.fails("misuse", "case", "confirm", str(case.id), "--reason", "x", "--suspend")

    assert isinstance(error, InvalidTransition) and "suspended" in str(error)
    assert case.status == "open"
    assert kinds(session, case) == ["opened"]


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
