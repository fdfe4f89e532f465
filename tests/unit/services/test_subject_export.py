"""Access and portability: every row about the customer is in the export, nothing about
anyone else is, and the table list cannot silently fall behind the register."""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer, hash_period
from licensing.errors import Conflict
from licensing.models import (
    Base,
    HoldScope,
    PrivacyRequest,
    PrivacyRequestKind,
    PrivacyRequestStatus,
)
from licensing.privacy.categories import RetentionPeriods
from licensing.privacy.pseudonymise import ip_hash
from licensing.privacy.register import COLUMNS
from licensing.services import (
    approvals,
    audit,
    legal_holds,
    licenses,
    subject_export,
    subject_search,
)
from licensing.services import staff as accounts
from tests.factories import latest_event
from tests.unit.services.subject_seeding import NOW, Subject, open_request, seed_subject


@pytest.fixture
def subjects(session: Session, sealer: Sealer) -> tuple[Subject, Subject]:
    ada = seed_subject(
        session, sealer, name="Ada Exported", ip="198.51.100.7", server_name="mx.ada.example"
    )
    bob = seed_subject(
        session, sealer, name="Bob Untouched", ip="203.0.113.9", server_name="mx.bob.example"
    )
    admin = accounts.add_staff(
        session,
        email=f"admin.{uuid.uuid4().hex[:6]}@example.org",
        display_name="Admin Person",
        role="admin",
        password="a long enough passphrase",
        actor="test:pytest",
    )
    for subject in (ada, bob):
        # Staff-typed reasons that name the person, in the audit log and a four-eyes request.
        licenses.suspend(
            session,
            subject.license,
            reason=f"{subject.customer.name} <{subject.customer.email}> asked us to pause",
            actor=f"staff:{admin.id}",
        )
        approvals.request_revocation(
            session,
            subject.license,
            reason=f"{subject.customer.name} stopped paying",
            requested_by=admin,
            now=NOW,
        )
    return ada, bob


def _export(session: Session, subject: Subject) -> tuple[PrivacyRequest, zipfile.ZipFile]:
    request = open_request(session, PrivacyRequestKind.ACCESS, subject.customer)
    done = subject_export.export(
        session, request.id, periods=RetentionPeriods(), actor="test:pytest", now=NOW
    )
    return request, zipfile.ZipFile(io.BytesIO(done.content))


def _rows(archive: zipfile.ZipFile, table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(archive.read(f"{table}.json"))
    return rows


def _key(table: str) -> str:
    return next(iter(Base.metadata.tables[table].primary_key.columns)).name


def test_every_row_about_the_customer_and_none_about_another(
    session: Session, subjects: tuple[Subject, Subject]
) -> None:
    ada, bob = subjects
    request, archive = _export(session, ada)
    ada_in_db = _rows_in_database(session, ada.customer.id, written_after=request.id)
    bob_in_db = _rows_in_database(session, bob.customer.id)

    for table in subject_export.exported_tables():
        key = _key(table)
        exported = {str(row[key]) for row in _rows(archive, table)}
        assert exported == ada_in_db[table], table
        assert not exported & bob_in_db[table], table
        with archive.open(f"{table}.csv") as handle:
            lines = list(csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8")))
        assert {line[key] for line in lines} == exported, table
    # Every table the seed wrote to is in the export with a row.
    assert all(ada_in_db[t] for t in subject_export.exported_tables()), ada_in_db
    everything = b"".join(archive.read(name) for name in archive.namelist())
    for value in (bob.customer.email, bob.customer.name, bob.server_name, bob.ip):
        assert value.encode() not in everything


def _rows_in_database(
    session: Session, customer_id: uuid.UUID, *, written_after: uuid.UUID | None = None
) -> dict[str, set[str]]:
    """Each exported table's rows about the customer, found by walking the foreign keys
    here rather than by the export's own selectors; the audit events the export of the
    request ``written_after`` wrote once the zip was made are left out."""
    from licensing.models import (
        ApprovalRequest,
        AuditEvent,
        LegalHold,
        License,
        MisuseCase,
        MisuseException,
        PrivacyRequest,
    )

    license_ids = set(session.scalars(select(License.id).where(License.customer_id == customer_id)))
    keys = set(session.scalars(select(License.key_id).where(License.customer_id == customer_id)))
    cases = set(
        session.scalars(select(MisuseCase.id).where(MisuseCase.license_id.in_(license_ids)))
    )
    exceptions = session.scalars(
        select(MisuseException.id).where(MisuseException.license_id.in_(license_ids))
    )
    holds = session.scalars(
        select(LegalHold.id).where(
            (LegalHold.customer_id == customer_id) | LegalHold.license_id.in_(license_ids)
        )
    )
    requests = session.scalars(
        select(PrivacyRequest.id).where(PrivacyRequest.customer_id == customer_id)
    )
    subjects = {
        ("customer", str(customer_id)),
        *(("license", str(i)) for i in license_ids),
        *(("misuse_case", str(i)) for i in cases),
        *(("misuse_exception", str(i)) for i in exceptions),
        *(("legal_hold", str(i)) for i in holds),
        *(("privacy_request", str(i)) for i in requests),
    }
    found: dict[str, set[str]] = {}
    for table in subject_export.exported_tables():
        t = Base.metadata.tables[table]
        key = t.c[_key(table)]
        if table == "audit_events":
            found[table] = {
                str(e.seq)
                for e in session.scalars(select(AuditEvent))
                if (e.subject_type, e.subject_id) in subjects
                and not (
                    written_after is not None
                    and e.subject_id == str(written_after)
                    and e.action in _WRITTEN_AFTER_THE_ZIP
                )
            }
            continue
        if table == "approval_requests":
            where = ApprovalRequest.subject_id.in_(license_ids)
        elif table == "customers":
            where = t.c.id == customer_id
        elif "customer_id" in t.c:
            where = t.c.customer_id == customer_id
        elif "license_id" in t.c:
            where = t.c.license_id.in_(license_ids)
        elif "case_id" in t.c:
            where = t.c.case_id.in_(cases)
        else:
            where = t.c.key_id.in_(keys)
        found[table] = {str(v) for v in session.scalars(select(key).where(where))}
    return found


_WRITTEN_AFTER_THE_ZIP = {subject_export.EXPORTED_ACTION, "privacy.request_completed"}


def test_every_personal_table_is_exported_or_says_why_not() -> None:
    personal = {t for t, cols in COLUMNS.items() if any(c.kind is not None for c in cols.values())}
    exported, not_exported = set(subject_export.EXPORTED), set(subject_export.NOT_EXPORTED)
    assert not exported & not_exported
    assert personal == exported | not_exported
    assert all(len(why) > 20 for why in subject_export.NOT_EXPORTED.values())


def test_a_personal_table_without_a_selector_fails_the_export(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        subject_export,
        "EXPORTED",
        {k: v for k, v in subject_export.EXPORTED.items() if k != "disclosures"},
    )
    with pytest.raises(subject_export.ExportIncomplete, match="disclosures"):
        subject_export.exported_tables()


def test_the_sealed_key_is_left_out_and_the_readme_says_so(
    session: Session, subjects: tuple[Subject, Subject]
) -> None:
    _, archive = _export(session, subjects[0])

    (license,) = _rows(archive, "licenses")
    assert "sealed_key" not in license
    assert license["key_id"] == subjects[0].license.key_id
    readme = archive.read("README.txt").decode()
    assert "licenses.sealed_key" in readme
    assert "audit_events" in readme


def test_hashes_are_hex_and_the_register_names_purposes_recipients_and_retention(
    session: Session, sealer: Sealer, subjects: tuple[Subject, Subject]
) -> None:
    ada = subjects[0]
    _, archive = _export(session, ada)

    hashes = {row["ip_hash"] for row in _rows(archive, "usage_observations")}
    # One hash per month the address was seen in, each under that month's key.
    days = {NOW.date(), (NOW - timedelta(days=35)).date()}
    assert hashes == {ip_hash(sealer, ada.ip, period=hash_period(day)).hex() for day in days}
    register = {entry["category"]: entry for entry in _rows(archive, "register.json"[:-5])}
    assert "raw_usage" in register and "license_and_customer" in register
    assert "usage_observations.ip" in register["raw_usage"]["columns"]
    assert register["raw_usage"]["retention"].startswith("30 days")
    assert all(entry["purpose"] and entry["legal_basis"] for entry in register.values())
    assert all("licenses.sealed_key" not in e["columns"] for e in register.values())
    (told,) = _rows(archive, "recipients")
    assert told["partner"] == ada.partner.name
    assert told["fields"] == ["status", "upgrade_protection_until"]


def test_the_export_completes_the_request_with_counts_and_is_audited(
    session: Session, subjects: tuple[Subject, Subject]
) -> None:
    request, _ = _export(session, subjects[0])

    assert request.status == PrivacyRequestStatus.COMPLETED
    assert request.outcome is not None and "usage_observations=2" in request.outcome
    exported = [e for e in _events(session) if e.action == subject_export.EXPORTED_ACTION]
    assert exported and exported[-1].data["rows"]["usage_observations"] == 2
    assert subjects[0].customer.email not in json.dumps(exported[-1].data)
    assert latest_event(session).action == "privacy.request_completed"


def _events(session: Session) -> list[Any]:
    from licensing.models import AuditEvent

    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def test_only_an_open_access_request_with_a_subject_is_served(
    session: Session, subjects: tuple[Subject, Subject]
) -> None:
    rectify = open_request(session, PrivacyRequestKind.RECTIFICATION, subjects[0].customer)
    nobody = open_request(session, PrivacyRequestKind.ACCESS, None)
    for request in (rectify, nobody):
        with pytest.raises(Conflict):
            subject_export.export(
                session, request.id, periods=RetentionPeriods(), actor="t:t", now=NOW
            )
    request, _ = _export(session, subjects[0])
    with pytest.raises(Conflict, match="already completed"):
        subject_export.export(session, request.id, periods=RetentionPeriods(), actor="t:t", now=NOW)


def test_the_audit_events_and_approvals_about_the_customer_are_exported_without_staff(
    session: Session, subjects: tuple[Subject, Subject]
) -> None:
    ada, bob = subjects
    _, archive = _export(session, ada)

    events = _rows(archive, "audit_events")
    suspended = [e for e in events if e["action"] == "license.suspended"]
    assert [e["subject_id"] for e in suspended] == [str(ada.license.id)]
    assert ada.customer.email in json.dumps(suspended[0]["data"])
    (approval,) = _rows(archive, "approval_requests")
    assert approval["subject_id"] == str(ada.license.id)
    assert approval["reason"] == f"{ada.customer.name} stopped paying"
    # Who acted is the staff member's data, not the customer's.
    assert all("actor" not in e for e in events)
    assert "requested_by" not in approval and "decided_by" not in approval
    everything = b"".join(archive.read(name) for name in archive.namelist())
    assert bob.customer.email.encode() not in everything
    assert f"{bob.customer.name} stopped paying".encode() not in everything
    readme = archive.read("README.txt").decode()
    assert "audit_events.actor" in readme and "approval_requests.requested_by" in readme
    assert f"audit_events: {len(events)}" in readme


def test_staff_holds_and_other_people_found_stay_out_of_the_exported_events(
    session: Session, sealer: Sealer, subjects: tuple[Subject, Subject]
) -> None:
    ada, _ = subjects
    hold = legal_holds.place(
        session,
        scope=HoldScope.LICENSE,
        license=ada.license,
        matter="A confidential matter",
        reason="kept for a legal claim",
        review_on=(NOW + timedelta(days=30)).date(),
        actor="test:pytest",
        now=NOW,
    )
    audit.record(
        session,
        actor="staff:someone",
        action="license.revoked",
        subject_type="license",
        subject_id=ada.license.id,
        data={"requested_by": "staff:asker", "request_id": "r1", "legal_hold_id": str(hold.id)},
        now=NOW,
    )
    request = open_request(session, PrivacyRequestKind.ACCESS, ada.customer)
    # A search made for the request: its counts would include anyone else it found.
    subject_search.search(
        session, sealer, ada.customer.email, actor="test:pytest", now=NOW, request_id=request.id
    )
    done = subject_export.export(
        session, request.id, periods=RetentionPeriods(), actor="test:pytest", now=NOW
    )
    archive = zipfile.ZipFile(io.BytesIO(done.content))
    events = _rows(archive, "audit_events")

    assert events and all(e["subject_type"] != "legal_hold" for e in events)
    revoked = next(e for e in events if e["data"].get("request_id") == "r1")
    assert revoked["data"] == {"request_id": "r1"}
    searched = next(e for e in events if e["action"] == subject_search.SEARCHED_ACTION)
    assert set(searched["data"]) == {"readings"}
    assert str(hold.id) not in archive.read("audit_events.json").decode()
    readme = archive.read("README.txt").decode()
    assert "audit_events.data[requested_by]" in readme
