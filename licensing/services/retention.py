"""The retention job: every category of the register ended on time, unless a hold keeps it.

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

Legal holds override retention: every step leaves the rows of a license or customer a
hold in force keeps (services/legal_hold_scope.py) and reports how many were due but
held (``kept_by_hold``). The rules for records other than usage are in
``retention_records``; audit events go as a prefix behind a signed anchor
(``retention_audit``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, delete, exists, func, not_, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from licensing.crypto.sealing import Sealer
from licensing.errors import InvalidRequest
from licensing.models import (
    Activation,
    ActivationStatus,
    ApprovalRequest,
    AuditEvent,
    Customer,
    Disclosure,
    LeasePresentation,
    LegalHold,
    MisuseCase,
    MisuseException,
    PrivacyRequest,
    StaffUser,
    UsageObservation,
)
from licensing.privacy.categories import CategoryCode, RetentionPeriods
from licensing.privacy.register import columns_of
from licensing.services import (
    audit,
    fixed_usage_keys,
    hash_key_periods,
    retention_audit,
    retention_records,
)
from licensing.services.legal_hold_scope import held_license_ids, in_force
from licensing.timeutil import add_months, utcnow

BATCH_ROWS = 5000
RETENTION_ACTOR = "system:privacy-enforce"
ENFORCED_ACTION = "privacy.retention_enforced"


class Step(StrEnum):
    """What the job does, one category of data at a time (the report's keys)."""

    USAGE_PSEUDONYMISED = "usage_pseudonymised"
    ACTIVATION_SERVER_NAMES_CLEARED = "activation_server_names_cleared"
    USAGE_DELETED = "usage_deleted"
    # After the usage: a released seat goes once nothing refers to it any more.
    ACTIVATIONS_DELETED = "activations_deleted"
    DISCLOSURES_DELETED = "disclosures_deleted"
    CUSTOMERS_ANONYMISED = "customers_anonymised"
    STAFF_ANONYMISED = "staff_anonymised"
    # Before the cases: a released hold names the case that placed it.
    LEGAL_HOLDS_DELETED = "legal_holds_deleted"
    MISUSE_CASES_DELETED = "misuse_cases_deleted"
    MISUSE_EXCEPTIONS_DELETED = "misuse_exceptions_deleted"
    PRIVACY_REQUESTS_DELETED = "privacy_requests_deleted"
    APPROVALS_DELETED = "approvals_deleted"
    # Last: the events of this run's own steps are not in its prefix anyway.
    AUDIT_EVENTS_PRUNED = "audit_events_pruned"
    # After everything hashed under them is deleted: the expired months' keys.
    HASH_KEYS_DESTROYED = "hash_keys_destroyed"


# Raw-usage columns the job leaves in place, and why. A fingerprint is how a check-in is
# matched to its activation: clearing it would stop a live instance from being verified
# (one seat per server), which is the very purpose the register names for raw usage.
KEPT_FOR_VERIFICATION: Mapping[tuple[str, str], str] = {
    ("activations", "fingerprint"): (
        "verification matches each check-in to its activation by it: it stays while the "
        "seat is live, and goes with the activation once it is released and its usage "
        "period has passed (step activations_deleted)"
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
    # Rows due per step that a legal hold in force kept.
    kept_by_hold: dict[Step, int] = field(default_factory=dict)
    # What the run could not do, or where it stopped, in a sentence each (no personal data).
    notes: tuple[str, ...] = field(default=())

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "counts": {step.value: n for step, n in self.counts.items()},
            "kept": [{"table": k.table, "column": k.column, "reason": k.reason} for k in self.kept],
            "kept_by_hold": {step.value: n for step, n in self.kept_by_hold.items()},
            "notes": list(self.notes),
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
    contract_instant: datetime  # a customer whose licenses all ended before this
    usage_instant: datetime  # misuse evidence decided or ended before this
    audit_instant: datetime  # audit events and accountability records older than this


def _cutoffs(periods: RetentionPeriods, as_of: datetime) -> _Cutoffs:
    return _Cutoffs(
        raw_day=as_of.date() - timedelta(days=periods.raw_usage_days),
        raw_instant=as_of - timedelta(days=periods.raw_usage_days),
        usage_day=add_months(as_of, -periods.usage_months).date(),
        disclosure_instant=as_of - timedelta(days=periods.disclosure_days),
        contract_instant=as_of - timedelta(days=periods.contract_days),
        usage_instant=add_months(as_of, -periods.usage_months),
        audit_instant=as_of - timedelta(days=periods.audit_days),
    )


def _attributes(model: Any, columns: tuple[str, ...]) -> list[InstrumentedAttribute[Any]]:
    return [getattr(model, name) for name in columns]


def _any_set(columns: list[InstrumentedAttribute[Any]]) -> ColumnElement[bool]:
    return or_(*(c.is_not(None) for c in columns))


@dataclass(frozen=True, slots=True)
class _Work:
    """One step: which rows are due (by primary key), and what is done to a batch of them.

    ``apply`` gives the statement for a batch; a step that needs the rows themselves (to
    anonymise a customer the one way erasure does too) gives ``change`` instead.
    """

    step: Step
    key: InstrumentedAttribute[Any]
    due: ColumnElement[bool]
    apply: Callable[[Any], Any] | None = None  # the statement for a batch's keys
    held: ColumnElement[bool] | None = None  # rows due that a legal hold in force keeps
    change: _Change | None = None

    @property
    def to_do(self) -> ColumnElement[bool]:
        """Due and not held: what a run changes."""
        return self.due if self.held is None else and_(self.due, not_(self.held))


# (session, keys of a batch, the condition to re-check, as-of) -> rows changed
_Change = Callable[[Session, Sequence[Any], ColumnElement[bool], datetime], int]


def _work(cut: _Cutoffs, as_of: datetime) -> list[_Work]:
    return _usage_work(cut, as_of) + _record_work(cut)


def _usage_work(cut: _Cutoffs, as_of: datetime) -> list[_Work]:
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
            held=o.license_id.in_(held_license_ids()),
        ),
        # A live instance reports its name again at its next check-in.
        _Work(
            Step.ACTIVATION_SERVER_NAMES_CLEARED,
            a.id,
            and_(a.last_check_in_at < cut.raw_instant, _any_set(a_raw)),
            lambda due: update(a).where(a.id.in_(due)).values({c: None for c in a_raw}),
            held=a.license_id.in_(held_license_ids()),
        ),
        _Work(
            Step.USAGE_DELETED,
            o.id,
            o.day < cut.usage_day,
            lambda due: delete(o).where(o.id.in_(due)),
            held=o.license_id.in_(held_license_ids()),
        ),
        # A released seat's fingerprint singles a server out and verification no longer
        # needs it: the row goes with the last usage that refers to it (the period of
        # pseudonymised usage, counted from the release).
        _Work(
            Step.ACTIVATIONS_DELETED,
            a.id,
            and_(
                a.status == ActivationStatus.RELEASED.value,
                a.released_at < cut.usage_instant,
                # Usage this same run deletes (the step above) does not count: the dry
                # run, which deletes nothing, then counts what the real run does.
                not_(
                    exists().where(
                        o.activation_id == a.id,
                        or_(o.day >= cut.usage_day, o.license_id.in_(held_license_ids())),
                    )
                ),
                not_(exists().where(LeasePresentation.activation_id == a.id)),
            ),
            lambda due: delete(a).where(a.id.in_(due)),
            held=a.license_id.in_(held_license_ids()),
        ),
        _Work(
            Step.DISCLOSURES_DELETED,
            d.id,
            d.disclosed_at < cut.disclosure_instant,
            lambda due: delete(d).where(d.id.in_(due)),
            held=d.license_id.in_(held_license_ids()),
        ),
    ]


def _record_work(cut: _Cutoffs) -> list[_Work]:
    r = retention_records
    h, x, p, q = LegalHold, MisuseException, PrivacyRequest, ApprovalRequest
    return [
        _Work(
            Step.CUSTOMERS_ANONYMISED,
            Customer.id,
            r.customers_due(cut.contract_instant),
            held=r.customers_held(),
            change=r.anonymise_customers,
        ),
        _Work(
            Step.STAFF_ANONYMISED,
            StaffUser.id,
            r.staff_due(cut.audit_instant),
            change=r.anonymise_staff,
        ),
        _Work(
            Step.LEGAL_HOLDS_DELETED,
            h.id,
            r.legal_holds_due(cut.audit_instant),
            lambda due: delete(h).where(h.id.in_(due)),
        ),
        _Work(
            Step.MISUSE_CASES_DELETED,
            MisuseCase.id,
            r.cases_due(cut.usage_instant),
            held=r.cases_held(cut.audit_instant),
            change=r.delete_cases,
        ),
        _Work(
            Step.MISUSE_EXCEPTIONS_DELETED,
            x.id,
            r.exceptions_due(cut.usage_instant),
            lambda due: delete(x).where(x.id.in_(due)),
            held=r.exceptions_held(),
        ),
        _Work(
            Step.PRIVACY_REQUESTS_DELETED,
            p.id,
            r.privacy_requests_due(cut.audit_instant),
            lambda due: delete(p).where(p.id.in_(due)),
            held=r.privacy_requests_held(),
        ),
        _Work(
            Step.APPROVALS_DELETED,
            q.id,
            r.approvals_due(cut.audit_instant),
            lambda due: delete(q).where(q.id.in_(due)),
            held=r.approvals_held(),
        ),
    ]


def _audit_work(plan: retention_audit.PrunePlan) -> _Work:
    e = AuditEvent
    return _Work(
        Step.AUDIT_EVENTS_PRUNED, e.seq, plan.due, lambda due: delete(e).where(e.seq.in_(due))
    )


def _count(session: Session, work: _Work) -> int:
    return _count_where(session, work, work.to_do)


def _count_where(session: Session, work: _Work, condition: ColumnElement[bool]) -> int:
    counted = session.scalar(select(func.count()).select_from(work.key.class_).where(condition))
    return int(counted or 0)


def _kept_by_hold(session: Session, work: _Work) -> int:
    if work.held is None:
        return 0
    return _count_where(session, work, and_(work.due, work.held))


def _run_in_batches(
    session: Session, work: _Work, batch_size: int, progress: Progress | None, as_of: datetime
) -> int:
    changed = changed_in_pass = 0
    after: Any = None  # the last key of the previous batch: each batch reads on from there
    while True:
        # In key order: observation and disclosure ids grow with time, so the oldest go
        # first; reading on from the last key keeps each batch from walking the rows the
        # batches before it already did.
        due = select(work.key).where(work.to_do).order_by(work.key).limit(batch_size)
        if after is not None:
            due = due.where(work.key > after)
        keys = session.scalars(due).all()
        if not keys:
            session.commit()
            # One more pass from the first key for rows a re-check left due; a step ends
            # only when a pass finds nothing due, or changes nothing (rows < batch_size
            # does not mean nothing is left).
            if after is None or changed_in_pass == 0:
                return changed
            after, changed_in_pass = None, 0
            continue
        after = keys[-1]
        if work.change is not None:
            rows = work.change(session, keys, work.to_do, as_of)
        else:
            assert work.apply is not None
            # The condition again on the outer statement: on PostgreSQL a row a check-in
            # changed since the select read it is re-checked against it (an instance that
            # just reported its server name keeps it).
            statement = work.apply(keys).where(work.to_do)
            statement = statement.execution_options(synchronize_session=False)
            rows = int(session.execute(statement).rowcount)  # type: ignore[attr-defined]
        session.commit()
        changed += rows
        changed_in_pass += rows
        if rows and progress is not None:
            progress.batch_done(work.step, rows)


def _holds_in_force(session: Session) -> bool:
    return bool(session.scalar(select(exists(in_force().subquery()))))


def enforce(
    session: Session,
    *,
    periods: RetentionPeriods,
    as_of: datetime,
    dry_run: bool,
    batch_size: int = BATCH_ROWS,
    progress: Progress | None = None,
    actor: str = RETENTION_ACTOR,
    sealer: Sealer | None = None,
    issuer: str = "licensing",
) -> RetentionReport:
    """Carry out the register's retention as of ``as_of``, except what legal holds keep.

    A real run commits after each batch and ends with one audit event holding the counts
    (never a value from the rows). A dry run counts what a real run would change now.
    Audit events are pruned only with a ``sealer`` (it opens the key that signs the
    prune anchor); without one the report says they were left.
    """
    if batch_size < 1:
        raise InvalidRequest("batch_size must be at least 1")
    cut = _cutoffs(periods, as_of)
    plan = retention_audit.plan(session, cut.audit_instant, audit_days=periods.audit_days)
    pruning = _audit_work(plan)
    work = [*_work(cut, as_of), pruning]
    kept = tuple(Conflict(t, c, why) for (t, c), why in sorted(KEPT_FOR_VERIFICATION.items()))
    held = _holds_in_force(session)
    kept_by_hold = {w.step: _kept_by_hold(session, w) if held else 0 for w in work}
    kept_by_hold[Step.AUDIT_EVENTS_PRUNED] = plan.kept_by_hold
    # A month's keys are destroyed whatever a hold keeps; the fixed usage keys stay while
    # any row they hashed is left, a held one too (the step reports no rows, only keys).
    kept_by_hold[Step.HASH_KEYS_DESTROYED] = 0
    notes = _audit_notes(plan)
    if sealer is None:
        notes.append("audit events not pruned: no key to sign the prune anchor with")
        work.remove(pruning)
    if dry_run:
        refused = retention_audit.cannot_anchor(session, plan, sealer) if pruning in work else None
        if refused is not None:
            notes.append(refused)
            work.remove(pruning)
        counted = {w.step: _count(session, w) for w in work}
        counted.setdefault(Step.AUDIT_EVENTS_PRUNED, 0)
        counted[Step.HASH_KEYS_DESTROYED] = hash_key_periods.count_expired(
            session, periods=periods, as_of=as_of
        ) + _fixed_keys_due(session, cut.usage_day, notes)
        return RetentionReport(as_of, True, counted, kept, kept_by_hold, tuple(notes))
    if progress is not None:  # only a progress bar needs the totals up front
        progress.started({w.step: _count(session, w) for w in work})
    session.commit()  # each batch is its own transaction from here
    counts = {
        w.step: _run_in_batches(session, w, batch_size, progress, as_of)
        for w in work
        if w is not pruning
    }
    if sealer is not None:
        # Signed at the time it is written, whatever the as-of: it says when the prune was.
        refused = retention_audit.anchor(session, sealer, plan, issuer=issuer, now=utcnow())
        if refused is None:
            counts[Step.AUDIT_EVENTS_PRUNED] = _run_in_batches(
                session, pruning, batch_size, progress, as_of
            )
        else:
            notes.append(refused)
    counts.setdefault(Step.AUDIT_EVENTS_PRUNED, 0)
    # Last, once the usage hashed under them is deleted: the expired months' keys. A
    # hold keeps rows, not the keys: held rows outlive their month's key unlinkable.
    # The fixed usage keys go once no row hashed under them is left (held rows too).
    counts[Step.HASH_KEYS_DESTROYED] = hash_key_periods.destroy_expired(
        session, periods=periods, as_of=as_of, actor=actor
    ) + fixed_usage_keys.destroy_unused(session, actor=actor)
    notes.extend(_fixed_key_notes(session))
    report = RetentionReport(as_of, False, counts, kept, kept_by_hold, tuple(notes))
    audit.record(
        session,
        actor=actor,
        action=ENFORCED_ACTION,
        subject_type="privacy",
        subject_id="retention",
        data={
            "as_of": as_of.isoformat(),
            **{s.value: n for s, n in counts.items()},
            "kept_by_hold": {s.value: n for s, n in kept_by_hold.items() if n},
        },
    )
    session.commit()
    return report


_FIXED_KEYS_DERIVED = (
    "hash keys: the fixed usage keys (from before monthly keys) hash no row left, but they "
    "were never stored, only derived from the master key, so deleting a row cannot destroy "
    "them; they become unlinkable with the next master-key rotation, which does not store "
    "them"
)


def _fixed_keys_due(session: Session, deleted_before: date, notes: list[str]) -> int:
    """How many stored fixed usage keys a real run would destroy (a dry run)."""
    if fixed_usage_keys.in_use(session, deleted_before=deleted_before):
        return 0
    if fixed_usage_keys.derived_only(session):
        notes.append(_FIXED_KEYS_DERIVED)
    return fixed_usage_keys.count_stored(session)


def _fixed_key_notes(session: Session) -> list[str]:
    if fixed_usage_keys.derived_only(session) and not fixed_usage_keys.in_use(session):
        return [_FIXED_KEYS_DERIVED]
    return []


def _audit_notes(plan: retention_audit.PrunePlan) -> list[str]:
    if plan.stopped_by_hold is None:
        return []
    return [
        f"audit events: the pruned prefix stops before event {plan.stopped_by_hold}, "
        "which is about data a legal hold keeps"
    ]
