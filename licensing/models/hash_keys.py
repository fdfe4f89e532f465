"""Keyed-hash keys that have outlived the master key they were derived from."""

from __future__ import annotations

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from licensing.models.base import Base, created_at


class HashKey(Base):
    """A keyed-hash key, sealed, once a master-key rotation has made it outlive the key.

    Until then each purpose's key is derived from the master key (crypto/sealing.py).
    """

    __tablename__ = "hash_keys"

    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[created_at]
