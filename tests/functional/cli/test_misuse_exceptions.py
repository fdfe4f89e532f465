"""``licensing misuse exception add|list|end``: declared, listed, ended, audited."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto import license_keys
from licensing.crypto.sealing import Sealer
from licensing.errors import InvalidRequest, InvalidTransition, NotFound
from licensing.misuse.findings import Rule
from licensing.models import AuditEvent
from licensing.models.misuse import MisuseException
from licensing.services.misuse_exceptions import active_exceptions
from licensing.timeutil import utcnow
from tests.factories import make_license
from tests.functional.cli.invoke import Licensing, key_with_a_dashed_key_id, table
from tests.functional.cli.misuse_helpers import open_case


def days_ahead(days: int) -> str:
    return (utcnow() + timedelta(days=days)).date().isoformat()


def add(
    licensing: Licensing,
    license_ref: str,
    *,
    rule: str = "MIGRATION_OVERSTAY",
    kind: str = "failover_server",
) -> dict[str, Any]:
    declared: dict[str, Any] = licensing.json(
        "misuse", "exception", "add", "--rule", rule, "--kind", kind,
        "--reason", "DR pair in Frankfurt", "--until", days_ahead(90),
        "--", license_ref,  # a key id may start with '-'
    )  # fmt: skip
    return declared


def test_add_list_and_end(licensing: Licensing, session: Session, sealer: Sealer) -> None:
    lic = make_license(session, sealer).license
    other = make_license(session, sealer).license

    declared = add(licensing, lic.key_id)
    add(licensing, str(other.id), rule="NETWORK_SPREAD", kind="nat")

    assert declared["license_id"] == str(lic.id)
    assert (declared["rule"], declared["kind"], declared["state"]) == (
        "MIGRATION_OVERSTAY", "failover_server", "active",
    )  # fmt: skip
    assert declared["declared_by"].startswith("cli:")
    assert active_exceptions(session, [lic.id, other.id], utcnow()) == {
        lic.id: frozenset({Rule.MIGRATION_OVERSTAY}),
        other.id: frozenset({Rule.NETWORK_SPREAD}),
    }
    rows = table(licensing.ok("misuse", "exception", "list"))
    assert [r["rule"] for r in rows] == ["MIGRATION_OVERSTAY", "NETWORK_SPREAD"]
    assert [
        x["id"] for x in licensing.json("misuse", "exception", "list", f"--license={lic.key_id}")
    ] == [declared["id"]]
    assert [
        x["rule"] for x in licensing.json("misuse", "exception", "list", "--rule", "NETWORK_SPREAD")
    ] == ["NETWORK_SPREAD"]

    ended = licensing.json("misuse", "exception", "end", declared["id"][:8])

    assert ended["state"] == "ended" and ended["ended_by"].startswith("cli:")
    assert lic.id not in active_exceptions(session, [lic.id], utcnow())
    assert [x["id"] for x in licensing.json("misuse", "exception", "list")] != [declared["id"]]
    everything = licensing.json("misuse", "exception", "list", "--all")
    assert {x["id"]: x["state"] for x in everything}[declared["id"]] == "ended"
    error = licensing.fails("misuse", "exception", "end", declared["id"])
    assert isinstance(error, InvalidTransition) and "already ended" in str(error)

    audited = list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject_id == declared["id"])
            .order_by(AuditEvent.seq)
        )
    )
    assert audited == ["misuse_exception.declared", "misuse_exception.ended"]
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "misuse_exception.declared")
    ).first()
    assert event is not None and "DR pair" not in str(event.data)  # ids, not the free text


def test_an_expired_exception_no_longer_holds(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    declared = add(licensing, str(lic.id))
    exception = session.get(MisuseException, uuid.UUID(declared["id"]))
    assert exception is not None
    exception.ends_at = utcnow() - timedelta(seconds=1)
    session.flush()

    assert active_exceptions(session, [lic.id], utcnow()) == {}
    assert licensing.json("misuse", "exception", "list") == []
    assert licensing.json("misuse", "exception", "list", "--all")[0]["state"] == "expired"
    assert isinstance(
        licensing.fails("misuse", "exception", "end", declared["id"]), InvalidTransition
    )


@pytest.mark.parametrize(
    ("until", "message"),
    [
        ("2020-01-01", "must end in the future"),
        (None, "at most 366 days"),
    ],
)
def test_the_end_date_must_be_in_the_future_and_within_a_year(
    licensing: Licensing, session: Session, sealer: Sealer, until: str | None, message: str
) -> None:
    lic = make_license(session, sealer).license
    error = licensing.fails(
        "misuse", "exception", "add", str(lic.id), "--rule", "NETWORK_SPREAD", "--kind", "nat",
        "--reason", "office", "--until", until or days_ahead(400),
    )  # fmt: skip
    assert isinstance(error, InvalidRequest) and message in str(error)
    assert session.scalars(select(MisuseException)).all() == []


def test_add_refuses_bad_input(licensing: Licensing, session: Session, sealer: Sealer) -> None:
    lic = make_license(session, sealer).license
    base = ["misuse", "exception", "add", str(lic.id), "--until", days_ahead(10)]
    assert licensing.run(*base, "--rule", "NOPE", "--kind", "nat", "--reason", "r").exit_code == 2
    assert (
        licensing.run(*base, "--rule", "NETWORK_SPREAD", "--kind", "vpn", "--reason", "r").exit_code
        == 2
    )
    assert (
        licensing.run(*base, "--rule", "NETWORK_SPREAD", "--kind", "nat", "--reason", " ").exit_code
        == 2
    )
    assert licensing.run(*base, "--rule", "NETWORK_SPREAD", "--kind", "nat").exit_code == 2
    missing_until = ["misuse", "exception", "add", str(lic.id), "--rule", "NETWORK_SPREAD"]
    assert licensing.run(*missing_until, "--kind", "nat", "--reason", "r").exit_code == 2
    unknown = licensing.fails(
        "misuse", "exception", "add", "00000000-0000-0000-0000-000000000000", "--rule",
        "NETWORK_SPREAD", "--kind", "nat", "--reason", "r", "--until", days_ahead(10),
    )  # fmt: skip
    assert isinstance(unknown, NotFound)
    assert isinstance(licensing.fails("misuse", "exception", "end", "abc"), InvalidRequest)
    assert isinstance(licensing.fails("misuse", "exception", "end", "0123456789abcdef"), NotFound)


@pytest.mark.parametrize("command", ["add", "list", "end"])
def test_every_exception_command_has_help(licensing: Licensing, command: str) -> None:
    assert "Usage:" in licensing.ok("misuse", "exception", command, "--help")


def test_a_key_id_starting_with_a_dash_is_given_after_double_dash_or_with_equals(
    licensing: Licensing, session: Session, sealer: Sealer, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = key_with_a_dashed_key_id()
    monkeypatch.setattr(license_keys, "generate", lambda: key)
    lic = make_license(session, sealer).license
    assert lic.key_id.startswith("-")

    add(licensing, lic.key_id)
    open_case(session, lic)

    assert len(licensing.json("misuse", "cases", f"--license={lic.key_id}")) == 1
    assert len(licensing.json("misuse", "exception", "list", f"--license={lic.key_id}")) == 1


def test_an_exception_covers_the_evidence_of_the_case_and_audits_no_reason(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    case = open_case(session, lic, Rule.SERVER_SPREAD)
    without = make_license(session, sealer).license

    declared = add(licensing, lic.key_id, rule="SERVER_SPREAD")
    bare = add(licensing, without.key_id, rule="SERVER_SPREAD")

    assert declared["covered_evidence"] == case.evidence
    assert bare["covered_evidence"] is None  # covers the first finding it holds quiet
    audited = session.scalars(
        select(AuditEvent).where(AuditEvent.subject_id == declared["id"])
    ).one()
    assert audited.data["covers_case_evidence"] is True
    assert "reason" not in audited.data and "Frankfurt" not in str(audited.data)
    help_text = licensing.run("misuse", "exception", "add", "--help").output
    assert "(audited)" not in help_text and "not this text" in help_text
