"""Which records the retention job ends, step by step: each rule as its SQL condition.

Every rule here is a pair the job (services/retention.py) works in batches: ``*_due``,
the rows whose period ended before a cutoff, and ``*_held``, those of them a legal hold
in force keeps (services/legal_hold_scope.py). The job changes the rows that are due and
not held, and reports the others as kept by a hold. Conditions only: the job picks the
rows by primary key, commits each batch and re-checks the condition on every statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, not_, or_, select
from sqlalchemy.orm import Session

from licensing.models import (
    ApprovalRequest,
    ApprovalStatus,
    CaseStatus,
    Customer,
    EscalationStep,
    LegalHold,
    License,
    LicenseStatus,
    MisuseCase,
    MisuseCaseEvent,
    MisuseException,
    PrivacyRequest,
    PrivacyRequestStatus,
    StaffUser,
)
from licensing.services.anonymisation import anonymise_customer
from licensing.services.legal_hold_scope import held_customer_ids, held_license_ids

ANONYMISED_STAFF_NAME = "anonymised staff account"
# Not a PHC string: argon2 rejects it, so no password ever matches an anonymised account.
ANONYMISED_PASSWORD_HASH = "!anonymised"  # noqa: S105 (a placeholder, not a secret)


# --- customers: anonymised once every license ended more than contract_days ago --------


def _ended_before(cutoff: datetime) -> ColumnElement[bool]:
    """A license that ended before ``cutoff``: it expired, or was revoked, by then."""
    return or_(
        and_(License.status == LicenseStatus.REVOKED.value, License.status_changed_at < cutoff),
        and_(License.expires_at.is_not(None), License.expires_at < cutoff),
    )


def customers_due(cutoff: datetime) -> ColumnElement[bool]:
    of_customer = License.customer_id == Customer.id
    still_running = select(License.id).where(of_customer, not_(_ended_before(cutoff))).exists()
    any_license = select(License.id).where(of_customer).exists()
    return and_(
        Customer.anonymised_at.is_(None),
        not_(still_running),
        # A customer who never had a license is kept for contract_days after it was created.
        or_(any_license, Customer.created_at < cutoff),
    )


def customers_held() -> ColumnElement[bool]:
    held_license = select(License.id).where(
        License.customer_id == Customer.id, License.id.in_(held_license_ids())
    )
    return or_(Customer.id.in_(held_customer_ids()), held_license.exists())


def anonymise_customers(
    session: Session, keys: Sequence[Any], due: ColumnElement[bool], now: datetime
) -> int:
    customers = session.scalars(select(Customer).where(Customer.id.in_(keys), due)).all()
    for customer in customers:
        anonymise_customer(session, customer, now=now)
    return len(customers)


# --- staff accounts: anonymised audit_days after they were disabled ----------------------


def staff_due(cutoff: datetime) -> ColumnElement[bool]:
    return and_(
        StaffUser.disabled_at.is_not(None),
        StaffUser.disabled_at < cutoff,
        StaffUser.anonymised_at.is_(None),
    )


def anonymise_staff(
    session: Session, keys: Sequence[Any], due: ColumnElement[bool], now: datetime
) -> int:
    """The row stays (the audit log names staff by id); what names or admits the person goes."""
    accounts = session.scalars(select(StaffUser).where(StaffUser.id.in_(keys), due)).all()
    for staff in accounts:
        # Unique per account, like the customer's placeholder, and never deliverable.
        staff.email = f"anonymised-{staff.id.hex}@anonymised.invalid"
        staff.display_name = ANONYMISED_STAFF_NAME
        staff.password_hash = ANONYMISED_PASSWORD_HASH
        staff.sessions_valid_after = now
        staff.anonymised_at = now
    session.flush()
    return len(accounts)


# --- misuse evidence: cases decided, and exceptions ended, usage_months ago --------------


def cases_due(cutoff: datetime) -> ColumnElement[bool]:
    """Dismissed, or confirmed with the ladder's last step (suspend) taken, before cutoff."""
    m = MisuseCase
    return or_(
        and_(m.status == CaseStatus.DISMISSED.value, m.decided_at < cutoff),
        and_(
            m.status == CaseStatus.CONFIRMED.value,
            m.escalation_step == EscalationStep.SUSPEND.value,
            m.escalated_at < cutoff,
        ),
    )


def cases_held(holds_cutoff: datetime) -> ColumnElement[bool]:
    """Cases of a held license, or named by a hold whose record this run keeps (in force,
    or released after ``holds_cutoff``): the hold's record refers to the case."""
    h = LegalHold
    named_by_hold = (
        select(h.id)
        .where(
            h.case_id == MisuseCase.id, or_(h.released_at.is_(None), h.released_at >= holds_cutoff)
        )
        .exists()
    )
    return or_(MisuseCase.license_id.in_(held_license_ids()), named_by_hold)


def delete_cases(
    session: Session, keys: Sequence[Any], due: ColumnElement[bool], now: datetime
) -> int:
    """The cases with their history (events): nothing else refers to a case."""
    ids: list[uuid.UUID] = list(
        session.scalars(select(MisuseCase.id).where(MisuseCase.id.in_(keys), due))
    )
    if not ids:
        return 0
    session.execute(delete(MisuseCaseEvent).where(MisuseCaseEvent.case_id.in_(ids)))
    deleted = session.execute(
        delete(MisuseCase)
        .where(MisuseCase.id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    return int(deleted.rowcount)  # type: ignore[attr-defined]


def exceptions_due(cutoff: datetime) -> ColumnElement[bool]:
    """Ended (by staff, or at their end date) before cutoff."""
    return func.coalesce(MisuseException.ended_at, MisuseException.ends_at) < cutoff


def exceptions_held() -> ColumnElement[bool]:
    return MisuseException.license_id.in_(held_license_ids())


# --- accountability records: kept for the audit period ----------------------------------


def privacy_requests_due(cutoff: datetime) -> ColumnElement[bool]:
    closed = (PrivacyRequestStatus.COMPLETED.value, PrivacyRequestStatus.REFUSED.value)
    return and_(PrivacyRequest.status.in_(closed), PrivacyRequest.closed_at < cutoff)


def privacy_requests_held() -> ColumnElement[bool]:
    return PrivacyRequest.customer_id.in_(held_customer_ids())


def legal_holds_due(cutoff: datetime) -> ColumnElement[bool]:
    return LegalHold.released_at < cutoff


def approvals_due(cutoff: datetime) -> ColumnElement[bool]:
    return and_(
        ApprovalRequest.status != ApprovalStatus.PENDING.value, ApprovalRequest.decided_at < cutoff
    )


def approvals_held() -> ColumnElement[bool]:
    # A request to revoke a license is part of that license's record.
    return ApprovalRequest.subject_id.in_(held_license_ids())
