"""Access and portability: a zip of every row about a customer, with the register's
purposes, legal bases, recipients and retention for what it holds.

The tables come from the register (``privacy/register.COLUMNS``): every table with a
personal column is either exported, by a selector of its rows about the customer below,
or listed in ``NOT_EXPORTED`` with the reason. A table added to the register with
neither makes the export fail loudly rather than leave it out silently
(tests/unit/services/test_subject_export.py holds the two lists to the register).
"""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, select
from sqlalchemy.orm import Session

from licensing.errors import LicensingError
from licensing.models import Base, License, MisuseCase, PrivacyRequest, PrivacyRequestKind
from licensing.privacy import export_shape
from licensing.privacy.categories import RetentionPeriods
from licensing.privacy.register import COLUMNS, record_of_processing
from licensing.services import audit, privacy_requests, subject_audit, subject_search
from licensing.services.disclosure_recipients import recipients

EXPORTED_ACTION = "privacy.subject_exported"

# (session, table, customer id) -> the table's rows about the customer
_Selector = Callable[[Session, Table, uuid.UUID], ColumnElement[bool]]


def _licenses_of(customer_id: uuid.UUID) -> Select[Any]:
    return select(License.id).where(License.customer_id == customer_id)


def _of_licenses(_: Session, table: Table, customer_id: uuid.UUID) -> ColumnElement[bool]:
    return table.c.license_id.in_(_licenses_of(customer_id))


# table -> its rows about the customer
EXPORTED: Mapping[str, _Selector] = {
    "customers": lambda _, t, c: t.c.id == c,
    "licenses": lambda _, t, c: t.c.customer_id == c,
    "activations": _of_licenses,
    "usage_observations": _of_licenses,
    "lease_presentations": _of_licenses,
    "misuse_cases": _of_licenses,
    "misuse_case_events": lambda _, t, c: t.c.case_id.in_(
        select(MisuseCase.id).where(MisuseCase.license_id.in_(_licenses_of(c)))
    ),
    "misuse_exceptions": _of_licenses,
    "signature_failures": lambda _, t, c: t.c.key_id.in_(
        select(License.key_id).where(License.customer_id == c)
    ),
    "disclosures": _of_licenses,
    "privacy_requests": lambda _, t, c: t.c.customer_id == c,
    # The staff-typed reasons in these may name the person (subject_audit says which).
    "audit_events": lambda s, t, c: subject_audit.events_about(
        t, subject_audit.subjects_of(s, c, holds=False)
    ),
    "approval_requests": lambda _, t, c: subject_audit.approvals_about(t, c),
}

NOT_EXPORTED: Mapping[str, str] = {
    "legal_holds": "a hold's matter may be confidential to legal claims (Art. 23(1)(j)); "
    "the erasure answer says what a hold keeps",
    "staff_users": "staff accounts, not customers",
    "rate_limit_counters": "keyed hashes of client addresses for a minute's rate limit: "
    "not linkable to a customer",
    "replay_nonces": "a license key id kept for the few minutes of the replay window",
}

# Columns about the customer that are not given out, and why.
WITHHELD: Mapping[tuple[str, str], str] = {
    ("licenses", "sealed_key"): "the license key itself, sealed: a credential the customer "
    "already holds; exporting it would put a working key in a file",
    # Art. 15(4): the copy must not adversely affect others; which employee acted is not
    # the customer's data (CJEU C-579/21), what was done and why is.
    ("audit_events", "actor"): "which staff member or operator acted: their personal data, "
    "not the customer's (GDPR Art. 15(4)); the event says what was done, when and why",
    ("approval_requests", "requested_by"): "which staff member asked: their personal data, "
    "not the customer's (GDPR Art. 15(4))",
    ("approval_requests", "decided_by"): "which staff member decided: their personal data, "
    "not the customer's (GDPR Art. 15(4))",
    ("misuse_case_events", "actor"): "which staff member acted (GDPR Art. 15(4))",
    ("misuse_cases", "assignee"): "which staff member works the case (GDPR Art. 15(4))",
    ("misuse_cases", "decided_by"): "which staff member decided (GDPR Art. 15(4))",
    ("misuse_exceptions", "declared_by"): "which staff member declared it (GDPR Art. 15(4))",
    ("misuse_exceptions", "ended_by"): "which staff member ended it (GDPR Art. 15(4))",
}

# Keys left out of the JSON an exported event carries (audit_events.data,
# misuse_case_events.detail), and why: the same reasons as the columns above, inside a
# value. A search's counts include the other people it found.
WITHHELD_IN_EVENTS: Mapping[str, str] = {
    "requested_by": "which staff member asked (GDPR Art. 15(4))",
    "decided_by": "which staff member decided (GDPR Art. 15(4))",
    "legal_hold_id": "a legal hold's existence may be confidential (Art. 23(1)(j))",
    "legal_hold_placed": "a legal hold's existence may be confidential (Art. 23(1)(j))",
    "legal_hold_in_force": "a legal hold's existence may be confidential (Art. 23(1)(j))",
}
EVENT_JSON = {"audit_events": "data", "misuse_case_events": "detail"}
# Of a search made for the request, only what was looked for: its counts include others.
SEARCH_KEPT = ("readings",)


def _redacted(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` without what WITHHELD_IN_EVENTS names inside its event JSON."""
    column = EVENT_JSON.get(table)
    if column is None or not isinstance(row.get(column), dict):
        return row
    value = {k: v for k, v in row[column].items() if k not in WITHHELD_IN_EVENTS}
    if row.get("action") == subject_search.SEARCHED_ACTION:
        value = {k: v for k, v in value.items() if k in SEARCH_KEPT}
    return {**row, column: value}


class ExportIncomplete(LicensingError):
    """The register names personal data the export has no way to select."""

    status = 500
    code = "EXPORT_INCOMPLETE"
    title = "Export incomplete"


@dataclass(frozen=True, slots=True)
class SubjectExport:
    request_id: uuid.UUID
    customer_id: uuid.UUID
    counts: Mapping[str, int]
    content: bytes  # the zip


def personal_tables() -> list[str]:
    """The register's tables holding at least one personal column."""
    return sorted(
        t for t, cols in COLUMNS.items() if any(c.kind is not None for c in cols.values())
    )


def exported_tables() -> list[str]:
    """The tables the export writes, in the register's order; fails on one it cannot."""
    tables = [t for t in personal_tables() if t not in NOT_EXPORTED]
    missing = [t for t in tables if t not in EXPORTED]
    if missing:
        raise ExportIncomplete(f"no export of the personal data in {', '.join(missing)}")
    return tables


def export(
    session: Session,
    request_id: uuid.UUID,
    *,
    periods: RetentionPeriods,
    actor: str,
    now: datetime,
) -> SubjectExport:
    """The zip for the open access request ``request_id``; completes the request."""
    request = privacy_requests.open_request(session, request_id, {PrivacyRequestKind.ACCESS})
    customer_id = request.customer_id
    assert customer_id is not None  # open_request refuses a request without a subject
    counts: dict[str, int] = {}
    columns_out: dict[str, list[str]] = {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in exported_tables():
            table = Base.metadata.tables[name]
            columns = [c for c in table.columns if (name, c.name) not in WITHHELD]
            query = (
                select(*columns)
                .where(EXPORTED[name](session, table, customer_id))
                .order_by(*table.primary_key.columns)
            )
            rows = [_redacted(name, dict(row._mapping)) for row in session.execute(query)]
            names = [c.name for c in columns]
            archive.writestr(f"{name}.json", export_shape.as_json(rows))
            archive.writestr(f"{name}.csv", export_shape.as_csv(names, rows))
            counts[name] = len(rows)
            columns_out[name] = names
        told = [
            {
                "partner_id": r.partner_id,
                "partner": r.partner,
                "kind": r.kind,
                "fields": list(r.fields),
                "disclosures": r.disclosures,
                "last_disclosed_at": r.last_disclosed_at,
            }
            for r in recipients(session, customer_id)
        ]
        archive.writestr("recipients.json", export_shape.as_json(told))
        register = export_shape.register_data(record_of_processing(periods), columns_out)
        archive.writestr("register.json", export_shape.as_json(register))
        archive.writestr(
            "README.txt",
            export_shape.readme(
                request_id=request.id,
                generated_at=now,
                counts=counts,
                withheld={
                    **{f"{t}.{c}": why for (t, c), why in WITHHELD.items()},
                    **{
                        f"{t}.{c}[{key}]": why
                        for t, c in EVENT_JSON.items()
                        for key, why in WITHHELD_IN_EVENTS.items()
                    },
                },
                not_exported=NOT_EXPORTED,
            ),
        )
    _close(session, request, counts, actor=actor, now=now)
    return SubjectExport(request.id, customer_id, counts, buffer.getvalue())


def _close(
    session: Session,
    request: PrivacyRequest,
    counts: Mapping[str, int],
    *,
    actor: str,
    now: datetime,
) -> None:
    audit.record(
        session,
        actor=actor,
        action=EXPORTED_ACTION,
        subject_type="privacy_request",
        subject_id=request.id,
        data={"customer_id": str(request.customer_id), "rows": dict(counts)},
        now=now,
    )
    summary = ", ".join(f"{table}={n}" for table, n in counts.items())
    privacy_requests.complete(
        session, request, outcome=f"exported rows: {summary}", actor=actor, now=now
    )
