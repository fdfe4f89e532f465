"""The fleet's usage per day, rolled up from the usage observations by a job."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from licensing.models.base import Base


class UsageDay(Base):
    """Check-ins and active instances of one day, over the whole fleet.

    Written by the ``usage-rollup`` job (services/usage_rollup.py) and read by the
    console's dashboard, which would otherwise aggregate millions of observations on
    every visit. A row holds aggregate counts only: no license, activation, address or
    server name, so no personal data, and erasing a customer leaves it as it is.

    A day with a row of zeros was computed and had no check-ins; a day without a row was
    not computed yet.
    """

    __tablename__ = "usage_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    check_ins: Mapped[int] = mapped_column(BigInteger)  # the sum of the day's counts
    active_instances: Mapped[int]  # distinct activations with an observation that day
    computed_at: Mapped[datetime]
