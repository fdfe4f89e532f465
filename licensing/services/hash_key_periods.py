"""The monthly keyed-hash keys of usage data: stored once, read for a search, destroyed.

A usage purpose's key for a month is created by the first worker that hashes a value
of that month (:func:`store_period_key`) and destroyed once the usage data of that month
has been deleted (:func:`destroy_expired`): the hashes left anywhere, a row kept by a
legal hold or a backup, can then no longer be matched to an address or a server name.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, Connection, delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from licensing.crypto.sealing import USAGE_HASH_PURPOSES, hash_period
from licensing.models import HashKey
from licensing.models.hash_keys import FIXED_PERIOD
from licensing.privacy.categories import RetentionPeriods
from licensing.privacy.pseudonymise import HeldKeys
from licensing.services import audit, fixed_usage_keys
from licensing.services.fixed_usage_keys import DESTROYED_ACTION
from licensing.timeutil import add_months, utcnow

__all__ = ["DESTROYED_ACTION", "destroy_expired", "store_period_key", "stored_period_keys"]

_k = HashKey


def store_period_key(
    session: Session, purpose: str, period: str, candidate: bytes
) -> tuple[bytes, bool]:
    """The sealed key of ``purpose`` for ``period``: ``candidate`` unless one is stored
    already; and whether it is committed (the sealer caches only a committed key).

    Two workers creating the same month at once end with one key: each inserts "on
    conflict do nothing", then reads what is there. On PostgreSQL that happens in a
    transaction of its own, committed before any hash is made under the key, so a
    check-in that rolls back cannot take the key with it. SQLite's write lock is held by
    the session already (BEGIN IMMEDIATE), so a second connection would wait for it:
    there the key is written in the session's transaction and counts as committed only
    when it is one this call did not write. A session bound to a connection (a
    caller's transaction) writes in that transaction too.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql" and not isinstance(bind, Connection):
        with bind.begin() as connection:
            return _insert_once(connection, purpose, period, candidate), True
    stored = _insert_once(session.connection(), purpose, period, candidate)
    return stored, stored != candidate


def _insert_once(connection: Connection, purpose: str, period: str, sealed: bytes) -> bytes:
    insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    connection.execute(
        insert(_k)
        .values(purpose=purpose, period=period, sealed_key=sealed, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["purpose", "period"])
    )
    stored = connection.scalar(
        select(_k.sealed_key).where(_k.purpose == purpose, _k.period == period)
    )
    if stored is None:  # deleted between the two statements: destroyed as it was made
        raise LookupError(f"the {purpose} key of {period} was destroyed while it was stored")
    return bytes(stored)


def stored_period_keys(session: Session, purpose: str) -> HeldKeys:
    """Every month's sealed key still held for ``purpose``, by period, oldest first, and
    whether the fixed key still hashes rows left from before monthly keys (a search
    hashes under it only then: services/fixed_usage_keys.py)."""
    rows = session.execute(
        select(_k.period, _k.sealed_key)
        .where(_k.purpose == purpose, _k.period != FIXED_PERIOD)
        .order_by(_k.period)
    )
    by_period = {period: bytes(sealed) for period, sealed in rows}
    return HeldKeys(by_period, fixed_key_in_use=lambda: fixed_usage_keys.searched(session))


def first_kept_period(*, periods: RetentionPeriods, as_of: datetime) -> str:
    """The oldest month whose key is kept: the month of the usage-deletion cutoff.

    The cutoff is retention's (``services/retention._cutoffs``: usage observed before
    that day is deleted); every month that ended before it holds no usage any more.
    """
    cutoff: date = add_months(as_of, -periods.usage_months).date()
    return hash_period(cutoff)


def _where(periods: RetentionPeriods, as_of: datetime) -> tuple[ColumnElement[bool], ...]:
    """The expired period keys. 'YYYY-MM' sorts as the months do; the fixed keys
    (period '') are not among them (the usage ones go by services/fixed_usage_keys)."""
    return (
        _k.purpose.in_(USAGE_HASH_PURPOSES),
        _k.period != FIXED_PERIOD,
        _k.period < first_kept_period(periods=periods, as_of=as_of),
    )


def count_expired(session: Session, *, periods: RetentionPeriods, as_of: datetime) -> int:
    """How many period keys :func:`destroy_expired` would destroy now (a dry run)."""
    counted = session.scalar(select(func.count()).select_from(_k).where(*_where(periods, as_of)))
    return int(counted or 0)


def destroy_expired(
    session: Session, *, periods: RetentionPeriods, as_of: datetime, actor: str
) -> int:
    """Delete every period key whose month ended before the usage-deletion cutoff, audited
    with the purposes and periods destroyed (nothing else); the number destroyed.

    Rows still stored under such a month (kept by a legal hold) keep their hashes, but
    nothing can reproduce them: searching their raw value no longer finds them.
    """
    destroyed = session.execute(
        select(_k.purpose, _k.period).where(*_where(periods, as_of)).order_by(_k.period)
    ).all()
    if not destroyed:
        return 0
    session.execute(delete(_k).where(*_where(periods, as_of)))
    audit.record(
        session,
        actor=actor,
        action=DESTROYED_ACTION,
        subject_type="privacy",
        subject_id="hash-keys",
        data={
            "purposes": sorted({purpose for purpose, _ in destroyed}),
            "periods": sorted({period for _, period in destroyed}),
        },
    )
    return len(destroyed)
