"""Server signing keys, keyed-hash keys and the replay store's nonces."""

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


class ReplayNonce(Base):
    """A nonce accepted from a license key; a second use within the window is a replay."""

    __tablename__ = "replay_nonces"

    key_id: Mapped[str] = mapped_column(String(22), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class HashKey(Base):
    """A keyed-hash key, sealed, once a master-key rotation has made it outlive the key.

    Until then each purpose's key is derived from the master key (crypto/sealing.py).
    """

    __tablename__ = "hash_keys"

    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[created_at]
