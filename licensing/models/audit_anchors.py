"""Where the audit chain begins after its oldest events were pruned: a signed anchor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from licensing.models.base import Base, BigIntegerKey


class AuditPruneAnchor(Base):
    """The head of what a retention run pruned (events 1..``seq``), signed by the server.

    The first event left must link to ``hash``; ``token`` (an EdDSA JWT over the same
    seq, hash and count) shows that the anchor was written by the server, not edited.
    """

    __tablename__ = "audit_prune_anchors"

    seq: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    # Events pruned up to ``seq``, over every run: seq itself when nothing was missing.
    events: Mapped[int]
    pruned_at: Mapped[datetime]
    kid: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(Text)
