"""The retention job: raw usage pseudonymised, old usage and disclosures deleted on time.

What is cleared comes from the register (licensing/privacy/register.py), not from a list
here: the raw-usage columns of a table are the ones the register classifies as raw usage,
so a column the register adds to that category is cleared by the next run. One exception
is declared below, with its reason, and a test holds both to the register.

Every category is worked in batches of ``batch_size`` rows picked by primary key
(``WHERE id IN (SELECT id ... LIMIT n)``), one commit per batch: no lock is held for
longer than a batch takes, so check-ins keep flowing on PostgreSQL, and SQLite's write
lock is released between batches. Each batch's condition excludes what was already done
(``ip IS NOT NULL``, rows still present), so the job is idempotent and a crashed run
simply resumes on the next one. A dry run counts the same conditions and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from licensing.errors import InvalidRequest
from licensing.models import Activation, Disclosure, UsageObservation
from licensing.privacy.categories import CategoryCode, RetentionPeriods
from licensing.privacy.register import columns_of
from licensing.services import audit, hash_key_periods
from licensing.timeutil import add_months

BATCH_ROWS = 5000
RETENTION_ACTOR = "system:privacy-enforce"
ENFORCED_ACTION = "privacy.retention_enforced"


class Step(StrEnum):
    """What the job does, one category of data at a time (the report's keys)."""

    USAGE_PSEUDONYMISED = "usage_pseudonymised"
    ACTIVATION_SERVER_NAMES_CLEARED = "activation_server_names_cleared"
    USAGE_DELETED = "usage_deleted"
    DISCLOSURES_DELETED = "disclosures_deleted"
    HASH_KEYS_DESTROYED = "hash_keys_destroyed"


# Raw-usage columns the job leaves in place, and why. A fingerprint is how a check-in is
# matched to its activation: clearing it would stop a live instance from being verified
# (one seat per server), which is the very purpose the register names for raw usage.
KEPT_FOR_VERIFICATION: Mapping[tuple[str, str], str] = {
    ("activations", "fingerprint"): (
        "the register classifies it as raw usage, but verification matches each check-in "
        "to its activation by it; left in place until the register settles its retention"
    ),
    ("replay_nonces", "key_id"): (
        "nonces expire within minutes and are pruned by the prune-nonces job"
    ),
}


def raw_columns(table: str) -> tuple[str, ...]:
    """The columns of ``table`` the register classifies as raw usage, sorted."""
    return tuple(sorted(c.column for c in columns_of(CategoryCode.RAW_USAGE) if c.table == table))


def cleared_columns(table: str) -> tuple[str, ...]:
    """The raw-usage columns of ``table`` the job sets to NULL once their period ends."""
    return tuple(c for c in raw_columns(table) if (table, c) not in KEPT_FOR_VERIFICATION)


@dataclass(frozen=True, slots=True)
class Conflict:
    """A register decision the job does not carry out, and why."""

    table: str
    column: str
    reason: str


@dataclass(frozen=True, slots=True)
class RetentionReport:
    as_of: datetime
    dry_run: bool
    # Rows changed (or, in a dry run, that would be) per step.
    counts: dict[Step, int]
    kept: tuple[Conflict, ...] = field(default=())

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "counts": {step.value: n for step, n in self.counts.items()},
            "kept": [{"table": k.table, "column": k.column, "reason": k.reason} for k in self.kept],
        }


class Progress(Protocol):
    def started(self, totals: Mapping[Step, int]) -> None: ...

    def batch_done(self, step: Step, rows: int) -> None: ...


@dataclass(frozen=True, slots=True)
class _Cutoffs:
    raw_day: date  # usage observed before this day is no longer raw
    raw_instant: datetime  # an activation last seen before this is no longer raw
    usage_day: date  # usage observed before this day is deleted
    disclosure_instant: datetime


def _cutoffs(periods: RetentionPeriods, as_of: datetime) -> _Cutoffs:
    return _Cutoffs(
        raw_day=as_of.date() - timedelta(days=periods.raw_usage_days),
        raw_instant=as_of - timedelta(days=periods.raw_usage_days),
        usage_day=add_months(as_of, -periods.usage_months).date(),
        disclosure_instant=as_of - timedelta(days=periods.disclosure_days),
    )


def _attributes(model: Any, columns: tuple[str, ...]) -> list[InstrumentedAttribute[Any]]:
    return [getattr(model, name) for name in columns]


def _any_set(columns: list[InstrumentedAttribute[Any]]) -> ColumnElement[bool]:
    return or_(*(c.is_not(None) for c in columns))


@dataclass(frozen=True, slots=True)
class _Work:
    """One step: which rows are due (by primary key), and what is done to a batch of them."""

    step: Step
    key: InstrumentedAttribute[Any]
    due: ColumnElement[bool]
    apply: Callable[[Any], Any]  # the statement for the rows whose key is in the subquery


def _work(cut: _Cutoffs, as_of: datetime) -> list[_Work]:
    o, a, d = UsageObservation, Activation, Disclosure
    o_raw = _attributes(o, cleared_columns(o.__tablename__))
    a_raw = _attributes(a, cleared_columns(a.__tablename__))
    return [
        # Rows about to be deleted are not pseudonymised first: the conditions exclude
        # each other, so the counts add up whichever step runs first.
        _Work(
            Step.USAGE_PSEUDONYMISED,
            o.id,
            and_(o.day < cut.raw_day, o.day >= cut.usage_day, _any_set(o_raw)),
            lambda due: (
                update(o)
                .where(o.id.in_(due))
                .values({**{c: None for c in o_raw}, o.pseudonymised_at: as_of})
            ),
        ),
        # A live instance reports its name again at its next check-in.
        _Work(
            Step.ACTIVATION_SERVER_NAMES_CLEARED,
            a.id,
            and_(a.last_check_in_at < cut.raw_instant, _any_set(a_raw)),
            lambda due: update(a).where(a.id.in_(due)).values({c: None for c in a_raw}),
        ),
        _Work(
            Step.USAGE_DELETED,
            o.id,
            o.day < cut.usage_day,
            lambda due: delete(o).where(o.id.in_(due)),
        ),
        _Work(
            Step.DISCLOSURES_DELETED,
            d.id,
            d.disclosed_at < cut.disclosure_instant,
            lambda due: delete(d).where(d.id.in_(due)),
        ),
    ]


def _count(session: Session, work: _Work) -> int:
    counted = session.scalar(select(func.count()).select_from(work.key.class_).where(work.due))
    return int(counted or 0)


def _run_in_batches(
    session: Session, work: _Work, batch_size: int, progress: Progress | None
) -> int:
    changed = 0
    while True:
        # In key order: observation and disclosure ids grow with time, so the oldest go first.
        due = select(work.key).where(work.due).order_by(work.key).limit(batch_size)
        # The condition again on the outer statement: on PostgreSQL a row a check-in changed
        # since the subquery read it is re-checked against it (an instance that just
        # reported its server name keeps it).
        statement = work.apply(due).where(work.due).execution_options(synchronize_session=False)
        rows = int(session.execute(statement).rowcount)  # type: ignore[attr-defined]
        session.commit()
        changed += rows
        if rows and progress is not None:
            progress.batch_done(work.step, rows)
        if rows < batch_size:
            return changed


def enforce(
    session: Session,
    *,
    periods: RetentionPeriods,
    as_of: datetime,
    dry_run: bool,
    batch_size: int = BATCH_ROWS,
    progress: Progress | None = None,
    actor: str = RETENTION_ACTOR,
) -> RetentionReport:
    """Carry out the register's retention for usage data and disclosures as of ``as_of``.

    A real run commits after each batch and ends with one audit event holding the counts
    (never a value from the rows). A dry run counts what a real run would change now.
    """
    if batch_size < 1:
        raise InvalidRequest("batch_size must be at least 1")
    work = _work(_cutoffs(periods, as_of), as_of)
    kept = tuple(Conflict(t, c, why) for (t, c), why in sorted(KEPT_FOR_VERIFICATION.items()))
    if dry_run:
        counted = {w.step: _count(session, w) for w in work}
        counted[Step.HASH_KEYS_DESTROYED] = hash_key_periods.count_expired(
            session, periods=periods, as_of=as_of
        )
        return RetentionReport(as_of=as_of, dry_run=True, counts=counted, kept=kept)
    if progress is not None:  # only a progress bar needs the totals up front
        progress.started({w.step: _count(session, w) for w in work})
    session.commit()  # each batch is its own transaction from here
    counts = {w.step: _run_in_batches(session, w, batch_size, progress) for w in work}
    # Last, once the usage hashed under them is deleted: the expired months' keys.
    counts[Step.HASH_KEYS_DESTROYED] = hash_key_periods.destroy_expired(
        session, periods=periods, as_of=as_of, actor=actor
    )
    report = RetentionReport(as_of=as_of, dry_run=False, counts=counts, kept=kept)
    audit.record(
        session,
        actor=actor,
        action=ENFORCED_ACTION,
        subject_type="privacy",
        subject_id="retention",
        data={"as_of": as_of.isoformat(), **{s.value: n for s, n in counts.items()}},
    )
    session.commit()
    return report
