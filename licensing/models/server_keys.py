"""The server's signing keys: Ed25519 keys for responses and leases, and their lifetime."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from licensing.models.base import Base, created_at


class ServerKey(Base):
    """An Ed25519 key the server signs responses and leases with."""

    __tablename__ = "server_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[created_at]
    retired_at: Mapped[datetime | None]
    # A retired key stays in the JWK Set until every lease it signed has expired.
    publish_until: Mapped[datetime | None]

    def is_published(self, now: datetime) -> bool:
        return self.publish_until is None or self.publish_until > now
