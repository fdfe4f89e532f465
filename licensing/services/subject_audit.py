"""Which audit events and four-eyes requests are about one customer.

An event is about the customer when its subject is the customer, one of its licenses,
their misuse cases or exceptions, a legal hold on it or them, or one of its privacy
requests: staff-typed reasons in these (a suspension, a revocation, a reveal) may name
the person, so the access export gives them and erasure counts them among what it keeps.
A four-eyes request is about the customer when it asks to revoke one of its licenses; a
hold release's request stays out, its reason may name the matter's parties.

The audit log stores a subject's id as text, so the ids are read first and compared as
text (a UUID column is not stored as that text on every backend).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import ColumnElement, Table, false, or_, select
from sqlalchemy.orm import Session

from licensing.models import (
    ApprovalAction,
    LegalHold,
    License,
    MisuseCase,
    MisuseException,
    PrivacyRequest,
)
from licensing.services import legal_holds

# Audit subject type -> the ids of that type about one customer.
Subjects = Mapping[str, Sequence[str]]


def subjects_of(session: Session, customer_id: uuid.UUID, *, holds: bool = True) -> Subjects:
    """The audit log's subjects that are the customer or belong to it, by subject type;
    without ``holds``, the legal holds on them are left out (the access export does not
    tell the subject of a hold, Art. 23(1)(j); erasure counts them among what it keeps)."""
    licenses = list(session.scalars(select(License.id).where(License.customer_id == customer_id)))
    cases = list(session.scalars(select(MisuseCase.id).where(MisuseCase.license_id.in_(licenses))))
    exceptions = session.scalars(
        select(MisuseException.id).where(MisuseException.license_id.in_(licenses))
    )
    held = session.scalars(
        select(LegalHold.id).where(
            (LegalHold.customer_id == customer_id)
            | LegalHold.license_id.in_(licenses)
            | LegalHold.case_id.in_(cases)
        )
    )
    requests = session.scalars(
        select(PrivacyRequest.id).where(PrivacyRequest.customer_id == customer_id)
    )
    return {
        "customer": [str(customer_id)],
        "license": [str(i) for i in licenses],
        "misuse_case": [str(i) for i in cases],
        "misuse_exception": [str(i) for i in exceptions],
        legal_holds.SUBJECT_TYPE: [str(i) for i in held] if holds else [],
        "privacy_request": [str(i) for i in requests],
    }


def events_about(audit_events: Table, subjects: Subjects) -> ColumnElement[bool]:
    """The audit events (``audit_events`` table) whose subject is one of ``subjects``."""
    t = audit_events.c
    return or_(
        false(),
        *(
            (t.subject_type == kind) & t.subject_id.in_(ids)
            for kind, ids in subjects.items()
            if ids
        ),
    )


def approvals_about(approval_requests: Table, customer_id: uuid.UUID) -> ColumnElement[bool]:
    """The four-eyes requests (``approval_requests`` table) to revoke the customer's licenses."""
    t = approval_requests.c
    return (t.action == ApprovalAction.REVOKE_LICENSE.value) & t.subject_id.in_(
        select(License.id).where(License.customer_id == customer_id)
    )
