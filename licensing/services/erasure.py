"""Erasure (GDPR Art. 17): what it removes from a customer, what it keeps, and why.

``plan`` counts, per table, the rows ``erase`` then changes: both read one description of
the erasure (``_steps``), so a dry run cannot promise other numbers than the erasure
does. What erasure does to the customer:

- the customer record is anonymised (``anonymisation.anonymise_customer``), not deleted:
  licenses, disclosures, privacy requests and the audit log refer to it by id;
- its licenses not yet revoked are revoked: an instance still calling home would
  otherwise go on writing usage about them;
- the rows that describe how and where the licenses were used go: activations, usage
  observations, lease presentations, replay nonces, signature-failure counts, misuse
  cases with their events, and misuse exceptions;
- kept, each with its reason (``KEPT``): disclosures, privacy requests, audit events and
  four-eyes approvals. Disclosures and requests name only ids, which no longer lead to a
  person; audit events and approvals also hold the reasons staff typed, which may name
  one, and are kept anyway: the audit chain cannot be rewritten, and a reason is the
  accountability the audit gives. They go when the audit period ends.

A legal hold in force wins over erasure (Art. 17(3)(e)): the licenses a hold keeps are
left as they are, and so is the customer record while any hold names the customer or
one of its licenses, since the claim the hold preserves is against the licensee (and
anonymising would also clear the held license's staff-written reason). The plan names
each hold and what it kept. Nothing about another customer is touched: every statement
is bounded by this customer's license ids or key ids.

Scrubbing the database files afterwards is ``storage/erasure_scrub.py``; the ledger that
re-applies erasures after a restore is ``services/erasure_ledger.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, func, select, update
from sqlalchemy.orm import Session

from licensing.errors import NotFound
from licensing.models import (
    ApprovalRequest,
    AuditEvent,
    Customer,
    Disclosure,
    HoldScope,
    LeasePresentation,
    LegalHold,
    License,
    LicenseStatus,
    MisuseCase,
    MisuseCaseEvent,
    MisuseException,
    PrivacyRequest,
    ReplayNonce,
    SignatureFailure,
    UsageObservation,
)
from licensing.models.activations import Activation
from licensing.services import anonymisation, audit, licenses, privacy_requests, subject_audit
from licensing.services.erasure_results import (
    KEPT,
    ErasurePlan,
    ErasureReport,
    HoldKept,
    KeptTable,
    TableChange,
)
from licensing.services.legal_hold_scope import holds_on_customer

__all__ = ["KEPT", "ErasurePlan", "ErasureReport", "erase", "outcome", "plan", "reapply"]

ERASED_ACTION = "privacy.erased"
REPLAYED_ACTION = "privacy.erasure_replayed"
REVOCATION_REASON = "erased at the customer's request"


@dataclass(frozen=True, slots=True)
class _Scope:
    """The customer's licenses that erasure may change, and what a hold keeps."""

    customer: Customer
    license_ids: tuple[uuid.UUID, ...]
    key_ids: tuple[str, ...]
    keep_customer: bool
    holds: tuple[LegalHold, ...]
    held_license_ids: dict[uuid.UUID, tuple[uuid.UUID, ...]]  # hold id -> its licenses


def _scope(session: Session, customer_id: uuid.UUID) -> _Scope:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("no such customer")
    owned = session.execute(
        select(License.id, License.key_id).where(License.customer_id == customer_id)
    ).all()
    holds = tuple(holds_on_customer(session, customer_id))
    all_ids = tuple(row.id for row in owned)
    held: dict[uuid.UUID, tuple[uuid.UUID, ...]] = {
        h.id: all_ids if h.scope == HoldScope.CUSTOMER else _ids(h.license_id) for h in holds
    }
    kept_ids = {license_id for ids in held.values() for license_id in ids}
    free = [row for row in owned if row.id not in kept_ids]
    return _Scope(
        customer=customer,
        license_ids=tuple(row.id for row in free),
        key_ids=tuple(row.key_id for row in free),
        keep_customer=bool(holds),
        holds=holds,
        held_license_ids=held,
    )


def _ids(license_id: uuid.UUID | None) -> tuple[uuid.UUID, ...]:
    return () if license_id is None else (license_id,)


@dataclass(frozen=True, slots=True)
class _Step:
    """One table's part of the erasure: which rows, and how they are changed."""

    table: str
    action: str
    count: Callable[[Session, _Scope], int]
    apply: Callable[[Session, _Scope, str, datetime], None]


def _deleting(model: Any, where: Callable[[_Scope], ColumnElement[bool]]) -> _Step:
    def count(session: Session, scope: _Scope) -> int:
        return _count(session, model, where(scope))

    def apply(session: Session, scope: _Scope, _actor: str, _now: datetime) -> None:
        session.execute(
            delete(model).where(where(scope)).execution_options(synchronize_session=False)
        )

    return _Step(model.__tablename__, "deleted", count, apply)


def _count(session: Session, model: Any, where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(where)) or 0)


def _cases(scope: _Scope) -> Any:
    return select(MisuseCase.id).where(MisuseCase.license_id.in_(scope.license_ids))


def _released_holds_on_cases(scope: _Scope) -> ColumnElement[bool]:
    # Holds in force on these licenses cannot exist (they would have kept them); a
    # released hold's row is kept for accountability but loses its link to the case.
    return LegalHold.case_id.in_(_cases(scope)) & LegalHold.released_at.is_not(None)


def _unlink_holds(session: Session, scope: _Scope, _actor: str, _now: datetime) -> None:
    session.execute(
        update(LegalHold)
        .where(_released_holds_on_cases(scope))
        .values(case_id=None)
        .execution_options(synchronize_session=False)
    )


def _revocable(scope: _Scope) -> ColumnElement[bool]:
    return License.id.in_(scope.license_ids) & License.status.in_(
        [LicenseStatus.ACTIVE.value, LicenseStatus.SUSPENDED.value]
    )


def _revoke(session: Session, scope: _Scope, actor: str, _now: datetime) -> None:
    for license in session.scalars(select(License).where(_revocable(scope))):
        # No second admin: four eyes guards staff acting on a customer's license against
        # their will; here the customer asked for it, and the request is the record.
        licenses.revoke(session, license, reason=REVOCATION_REASON, actor=actor, four_eyes=False)


def _to_anonymise(session: Session, scope: _Scope) -> int:
    keep = scope.keep_customer or anonymisation.is_anonymised(scope.customer)
    return 0 if keep else 1


def _anonymise(session: Session, scope: _Scope, _actor: str, now: datetime) -> None:
    if _to_anonymise(session, scope):
        anonymisation.anonymise_customer(session, scope.customer, now=now)


# In foreign-key order: what refers to a row goes before the row.
_STEPS: tuple[_Step, ...] = (
    _deleting(LeasePresentation, lambda s: LeasePresentation.license_id.in_(s.license_ids)),
    _deleting(UsageObservation, lambda s: UsageObservation.license_id.in_(s.license_ids)),
    _deleting(Activation, lambda s: Activation.license_id.in_(s.license_ids)),
    _deleting(ReplayNonce, lambda s: ReplayNonce.key_id.in_(s.key_ids)),
    _deleting(SignatureFailure, lambda s: SignatureFailure.key_id.in_(s.key_ids)),
    _deleting(MisuseCaseEvent, lambda s: MisuseCaseEvent.case_id.in_(_cases(s))),
    _Step(
        "legal_holds",
        "unlinked",
        lambda session, s: _count(session, LegalHold, _released_holds_on_cases(s)),
        _unlink_holds,
    ),
    _deleting(MisuseCase, lambda s: MisuseCase.license_id.in_(s.license_ids)),
    _deleting(MisuseException, lambda s: MisuseException.license_id.in_(s.license_ids)),
    # Anonymised before the revocation, which then keeps its reason (it names nobody):
    # anonymising clears every staff-written reason on the customer's licenses.
    _Step("customers", "anonymised", _to_anonymise, _anonymise),
    _Step(
        "licenses",
        "revoked",
        lambda session, s: _count(session, License, _revocable(s)),
        _revoke,
    ),
)


def plan(session: Session, customer_id: uuid.UUID, *, now: datetime) -> ErasurePlan:
    """The dry run: rows per table ``erase`` would change, what is kept and why."""
    return _plan(session, _scope(session, customer_id))


def _plan(session: Session, scope: _Scope) -> ErasurePlan:
    changes = tuple(TableChange(s.table, s.action, s.count(session, scope)) for s in _STEPS)
    return ErasurePlan(
        customer_id=scope.customer.id,
        changes=changes,
        kept=_kept(session, scope),
        holds=tuple(_hold_kept(session, scope, h) for h in scope.holds),
    )


def _kept(session: Session, scope: _Scope) -> tuple[KeptTable, ...]:
    customer_id = scope.customer.id
    about = subject_audit.subjects_of(session, customer_id)
    rows = {
        "disclosures": _count(session, Disclosure, Disclosure.license_id.in_(scope.license_ids)),
        "privacy_requests": _count(
            session, PrivacyRequest, PrivacyRequest.customer_id == customer_id
        ),
        # The same events and requests the access export gives the customer.
        "audit_events": _count(
            session, AuditEvent, subject_audit.events_about(_table(AuditEvent), about)
        ),
        "approval_requests": _count(
            session,
            ApprovalRequest,
            subject_audit.approvals_about(_table(ApprovalRequest), customer_id),
        ),
    }
    return tuple(KeptTable(table, rows[table], reason) for table, reason in KEPT.items())


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _hold_kept(session: Session, scope: _Scope, hold: LegalHold) -> HoldKept:
    ids = scope.held_license_ids[hold.id]
    kept = {
        "licenses": len(ids),
        "activations": _count(session, Activation, Activation.license_id.in_(ids)),
        "usage_observations": _count(
            session, UsageObservation, UsageObservation.license_id.in_(ids)
        ),
        "misuse_cases": _count(session, MisuseCase, MisuseCase.license_id.in_(ids)),
        "customers": 0 if anonymisation.is_anonymised(scope.customer) else 1,
    }
    return HoldKept(hold_id=hold.id, matter=hold.matter, scope=hold.scope, kept=kept)


def _apply(session: Session, scope: _Scope, *, actor: str, now: datetime) -> ErasurePlan:
    done = _plan(session, scope)
    for step in _STEPS:
        step.apply(session, scope, actor, now)
    session.flush()
    # The bulk statements bypass the identity map: objects loaded before are stale.
    session.expire_all()
    return done


def erase(session: Session, request: PrivacyRequest, *, actor: str, now: datetime) -> ErasureReport:
    """Erase the customer of the open erasure ``request`` and complete it with the counts.

    ``request`` comes from ``privacy_requests.open_request`` (locked, open, of kind
    erasure, naming a customer). The face commits, then appends to the erasure ledger
    and scrubs the database files (``storage/erasure_scrub.py``).
    """
    assert request.customer_id is not None  # open_request refuses a request without one
    _secure_delete(session)
    done = _apply(session, _scope(session, request.customer_id), actor=actor, now=now)
    privacy_requests.complete(session, request, outcome=outcome(done), actor=actor, now=now)
    audit.record(
        session,
        actor=actor,
        action=ERASED_ACTION,
        subject_type="customer",
        subject_id=done.customer_id,
        data=_audit_data(done) | {"request_id": str(request.id)},
        now=now,
    )
    return ErasureReport(request_id=request.id, erased_at=now, plan=done)


def reapply(
    session: Session, customer_id: uuid.UUID, *, actor: str, now: datetime
) -> ErasureReport:
    """Erase ``customer_id`` again (a ledger line after a restore): no request is needed,
    the one that asked was completed before the backup was restored over it."""
    _secure_delete(session)
    done = _apply(session, _scope(session, customer_id), actor=actor, now=now)
    audit.record(
        session,
        actor=actor,
        action=REPLAYED_ACTION,
        subject_type="customer",
        subject_id=customer_id,
        data=_audit_data(done),
        now=now,
    )
    return ErasureReport(request_id=None, erased_at=now, plan=done)


def _secure_delete(session: Session) -> None:
    # SQLite keeps deleted rows in free pages and cells unless told to overwrite them with
    # zeros; the setting is per connection, so it is set on the one that writes.
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("PRAGMA secure_delete = ON")


def _audit_data(done: ErasurePlan) -> dict[str, Any]:
    return {
        "counts": {c.table: c.rows for c in done.changes if c.rows},
        "holds": [str(h.hold_id) for h in done.holds],
    }


def outcome(done: ErasurePlan) -> str:
    """The request's outcome: table names and counts, never a value."""
    changed = ", ".join(f"{c.table} {c.rows} {c.action}" for c in done.changes if c.rows)
    kept = ", ".join(f"{k.table} {k.rows}" for k in done.kept if k.rows)
    text = f"erased: {changed or 'nothing left to change'}"
    if kept:
        text += f"; kept: {kept}"
    if done.holds:
        text += "; kept by legal holds: " + ", ".join(str(h.hold_id) for h in done.holds)
    return text
