"""The replay store's nonces, when the database keeps them (PROTOCOL.md §4)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from licensing.models.base import Base


class ReplayNonce(Base):
    """A nonce accepted from a license key; a second use within the window is a replay."""

    __tablename__ = "replay_nonces"

    key_id: Mapped[str] = mapped_column(String(22), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
