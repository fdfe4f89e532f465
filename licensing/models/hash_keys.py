"""Keyed-hash keys: the fixed ones that outlived a master key, and the monthly ones."""

from __future__ import annotations

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from licensing.models.base import Base, created_at

# The period of a key that does not rotate (lease ids, partner keys).
FIXED_PERIOD = ""


class HashKey(Base):
    """A keyed-hash key, sealed under the master key.

    A fixed purpose's key (``period`` empty) is derived from the master key until a
    rotation stores it here; the usage purposes' fixed keys (what hashed usage before
    monthly keys) are deleted once no row they hashed is left. A usage purpose's key has
    one row per UTC month (``period`` "YYYY-MM"): 32 random bytes, created on first use
    and deleted once the data hashed under it has expired, which makes those hashes
    unlinkable.
    """

    __tablename__ = "hash_keys"

    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(
        String(7), primary_key=True, default=FIXED_PERIOD, server_default=FIXED_PERIOD
    )
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[created_at]
