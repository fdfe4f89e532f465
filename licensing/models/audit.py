"""The append-only, hash-chained audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from licensing.models.base import Base, BigIntegerKey, JSONType


class AuditEvent(Base):
    """One audited action; ``hash`` covers the row and the previous row's hash."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # A license page shows the audit trail of its license, newest first: without it
        # the page reads the whole log backwards to find a few events.
        Index("ix_audit_events_subject_id_seq", "subject_id", "seq"),
    )

    # Assigned by the audit service, not the database: a unique, gap-free sequence
    # makes two parallel appends collide instead of forking the chain.
    seq: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
