"""Misuse evidence beyond usage observations, and what staff make of findings.

Evidence collected on the call-home path: leases presented out of turn and invalid
signatures per key id. What staff work with: a case per (license, rule), its events (the
history of the evidence, notes and decisions), and exceptions that silence a rule.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from licensing.models.base import Base, BigIntegerKey, JSONType, uuid_pk
from licensing.timeutil import utcnow


class CaseStatus(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class EscalationStep(StrEnum):
    """The vendor's ladder for a confirmed case, in order."""

    NOTIFY_CUSTOMER = "notify_customer"
    FINAL_NOTICE = "final_notice"
    SUSPEND = "suspend"


class LeasePresentation(Base):
    """A check-in that presented a lease other than the newest one issued to its activation.

    Written only when the two differ and the presented id verifies as one issued to this
    activation (crypto/leases.py), so an instance holding the newest lease (the normal
    case) costs nothing here and made-up ids write nothing.
    """

    __tablename__ = "lease_presentations"
    __table_args__ = (Index("ix_lease_presentations_license_id_at", "license_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=True)
    license_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("licenses.id"))
    activation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("activations.id"))
    presented_jti: Mapped[str] = mapped_column(String(64))
    newest_jti: Mapped[str] = mapped_column(String(64))
    # The lease the server answered this check-in with (null: none was sent). A retry
    # that lands after its original presents a lease that the chain continues from.
    issued_jti: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # The /24 or /48 network the check-in came from; null when processing is restricted.
    ip_prefix: Mapped[str | None] = mapped_column(String(49))
    ip_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))


class SignatureFailure(Base):
    """Invalid signatures counted for one known key id in one time bucket."""

    __tablename__ = "signature_failures"
    __table_args__ = (
        CheckConstraint("count >= 1", name="count_positive"),
        Index("ix_signature_failures_bucket_start", "bucket_start"),
    )

    key_id: Mapped[str] = mapped_column(String(22), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=1)


class MisuseCase(Base):
    """One case per (license, rule): it reopens rather than duplicating."""

    __tablename__ = "misuse_cases"
    __table_args__ = (
        UniqueConstraint("license_id", "rule"),
        CheckConstraint("status IN ('open', 'confirmed', 'dismissed')", name="status_known"),
        CheckConstraint("severity IN ('low', 'medium', 'high')", name="severity_known"),
        CheckConstraint(
            "escalation_step IS NULL OR escalation_step IN "
            "('notify_customer', 'final_notice', 'suspend')",
            name="escalation_step_known",
        ),
        Index("ix_misuse_cases_status_severity", "status", "severity"),
        Index("ix_misuse_cases_rule", "rule"),
    )

    id: Mapped[uuid_pk]
    license_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("licenses.id"))
    rule: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default=CaseStatus.OPEN)
    summary: Mapped[str] = mapped_column(String(500))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    assignee: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decision_reason: Mapped[str | None] = mapped_column(String(1000))
    # What the decision was taken on: a dismissed case reopens only on evidence beyond it.
    decided_evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # The last step of the escalation ladder taken, and when.
    escalation_step: Mapped[str | None] = mapped_column(String(16))
    escalated_at: Mapped[datetime | None]


class MisuseCaseEvent(Base):
    """The history of a case: opened, evidence grown, assigned, noted, decided, escalated."""

    __tablename__ = "misuse_case_events"
    __table_args__ = (Index("ix_misuse_case_events_case_id_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("misuse_cases.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class MisuseException(Base):
    """A legitimate pattern staff declared for a license and rule, until a date."""

    __tablename__ = "misuse_exceptions"
    __table_args__ = (Index("ix_misuse_exceptions_license_id_rule", "license_id", "rule"),)

    id: Mapped[uuid_pk]
    license_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("licenses.id"))
    rule: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))  # failover server, NAT, test server, other
    reason: Mapped[str] = mapped_column(String(1000))
    declared_by: Mapped[str] = mapped_column(String(100))
    declared_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(100))
    # The evidence the exception covers (the case's when declared, else the first finding
    # it held quiet): a finding beyond it is no longer covered.
    covered_evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class MisuseScanState(Base):
    """Where the incremental scan stopped: one row per scan name."""

    __tablename__ = "misuse_scan_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    scanned_until: Mapped[datetime]
    full_scan_at: Mapped[datetime | None]
