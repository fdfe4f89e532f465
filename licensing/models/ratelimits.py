"""Rate-limit counters shared by every worker and host when Redis is not configured."""

from __future__ import annotations

from sqlalchemy import Double, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from licensing.models.base import Base


class RateLimitCounter(Base):
    """One fixed-window counter of the ``limits`` library (storage/rate_counters.py).

    ``name`` is the library's key: the limit and whom it counts (a partner key id, or a
    keyed hash of a client address, never the address itself). ``expires_at`` is the
    end of the window in seconds since the epoch, the clock ``limits`` reasons in.
    """

    __tablename__ = "rate_limit_counters"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Double, index=True)
