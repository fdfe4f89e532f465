"""Monthly keyed-hash keys on the database: made by the check-in path, searched under
every month held, and destroyed with the month's data so that its hashes no longer match.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import HASH_KEYS_TABLE, USAGE_HASH_PURPOSES, Sealer
from licensing.models import Activation, AuditEvent, HashKey, License, UsageObservation
from licensing.privacy.categories import RetentionPeriods
from licensing.privacy.pseudonymise import ip_hash, server_name_hash
from licensing.services import hash_key_periods, retention, staff_search
from licensing.services import staff as accounts
from licensing.services.check_ins import record_check_in
from licensing.services.instance_reports import CheckIn
from licensing.services.retention import Step
from tests.conftest import MASTER_KEY
from tests.factories import make_license

PERIODS = RetentionPeriods()
DAY = timedelta(days=1)
IP = "203.0.113.77"
SERVER = "vault-3.example.net"


def _checked_in(
    session: Session, sealer: Sealer, license: License, *, at: datetime, ip: str = IP
) -> UsageObservation:
    """One check-in written by the check-in path, then the row it wrote."""
    activation = Activation(
        license_id=license.id,
        fingerprint=uuid.uuid4().hex,
        server_name=SERVER,
        product_version="2.0.0",
        activated_at=at - 10 * DAY,
        last_check_in_at=at - DAY,
    )
    session.add(activation)
    session.flush()
    report = CheckIn(
        activation_id=activation.id,
        fingerprint=None,
        server_name=SERVER,
        product_version="2.0.0",
        usage={},
        ip=ip,
    )
    record_check_in(
        session, sealer, license_id=license.id, processing_restricted=False, report=report, now=at
    )
    return session.scalars(
        select(UsageObservation).where(UsageObservation.activation_id == activation.id)
    ).one()


def _pseudonymise(session: Session, *rows: UsageObservation) -> None:
    """As the retention job leaves a row: hashes and prefix only; the seat renamed."""
    for row in rows:
        row.ip = row.server_name = None
        row.pseudonymised_at = row.last_seen
        activation = session.get(Activation, row.activation_id)
        assert activation is not None
        activation.server_name = None
    session.flush()


def _found(session: Session, sealer: Sealer, query: str, now: datetime) -> set[uuid.UUID]:
    analyst = accounts.add_staff(
        session,
        email=f"analyst.{uuid.uuid4().hex[:6]}@example.org",
        display_name="Analyst",
        role="analyst",
        password="a long enough passphrase",
        actor="test:pytest",
    )
    result = staff_search.search(session, sealer, query, staff=analyst, now=now)
    return {hit.license_id for hit in result.hits}


def _periods(session: Session) -> set[tuple[str, str]]:
    rows = session.execute(select(HashKey.purpose, HashKey.period).where(HashKey.period != ""))
    return {(purpose, period) for purpose, period in rows}


def test_a_check_in_hashes_under_its_months_keys_made_on_first_use(
    session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    november = _checked_in(session, sealer, license, at=datetime(2031, 11, 30, 23, tzinfo=UTC))
    december = _checked_in(session, sealer, license, at=datetime(2031, 12, 1, 1, tzinfo=UTC))

    assert {(p, m) for p in USAGE_HASH_PURPOSES for m in ("2031-11", "2031-12")} <= _periods(
        session
    )
    # One address, one server: unlinkable across the month boundary.
    assert november.ip_hash != december.ip_hash
    assert november.server_name_hash != december.server_name_hash
    assert november.observation_key != december.observation_key
    held = hash_key_periods.stored_period_keys(session, "ip")
    assert november.ip_hash == sealer.keyed_hash_under(
        "ip", "2031-11", held["2031-11"], IP.encode()
    )
    assert november.ip_hash == ip_hash(sealer, IP, period="2031-11")
    assert december.server_name_hash == server_name_hash(sealer, SERVER, period="2031-12")


def test_once_a_months_keys_are_held_a_check_in_reads_none(
    session: Session, sealer: Sealer
) -> None:
    calls: list[str] = []

    def store(purpose: str, period: str, candidate: bytes) -> tuple[bytes, bool]:
        calls.append(purpose)
        return hash_key_periods.store_period_key(session, purpose, period, candidate)

    cached = Sealer(base64.b64decode(MASTER_KEY), period_keys=store, period_key_ttl=60)
    license = make_license(session, sealer).license
    at = datetime(2031, 8, 3, 9, tzinfo=UTC)
    for minute in range(4):
        _checked_in(session, cached, license, at=at + timedelta(minutes=minute))
    # The first check-in wrote the month's three keys in its (uncommitted) transaction,
    # so they were not cached; the second found them stored; later ones read none.
    assert len(calls) == 2 * len(USAGE_HASH_PURPOSES)


def test_a_months_key_is_stored_once_whoever_stores_it(session: Session, sealer: Sealer) -> None:
    def candidate() -> bytes:
        return sealer.seal(uuid.uuid4().bytes * 2, table=HASH_KEYS_TABLE, row_id="ip/2032-01")

    first, second = candidate(), candidate()
    stored, committed = hash_key_periods.store_period_key(session, "ip", "2032-01", first)
    again, committed_again = hash_key_periods.store_period_key(session, "ip", "2032-01", second)

    assert stored == again == first
    # Written in this session's transaction: not committed until it is, so not cached.
    assert (committed, committed_again) == (False, True)
    count = select(func.count()).select_from(HashKey).where(HashKey.period == "2032-01")
    assert session.scalar(count) == 1


def test_a_pseudonymised_row_of_an_earlier_month_is_found_by_its_raw_values(
    session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    other = make_license(session, sealer).license
    old = _checked_in(session, sealer, license, at=datetime(2031, 9, 14, 8, tzinfo=UTC))
    _checked_in(session, sealer, other, at=datetime(2031, 11, 2, 8, tzinfo=UTC), ip="192.0.2.1")
    _pseudonymise(session, old)
    now = datetime(2031, 11, 20, tzinfo=UTC)

    assert license.id in _found(session, sealer, IP, now)
    assert license.id in _found(session, sealer, SERVER, now)
    assert other.id not in _found(session, sealer, IP, now)


def test_destroyed_keys_leave_the_hashes_of_their_month_unlinkable(
    session: Session, sealer: Sealer
) -> None:
    held_license = make_license(session, sealer).license  # its row kept, say by a legal hold
    recent_license = make_license(session, sealer).license
    kept = _checked_in(session, sealer, held_license, at=datetime(2031, 10, 20, tzinfo=UTC))
    recent = _checked_in(session, sealer, recent_license, at=datetime(2031, 11, 5, tzinfo=UTC))
    _pseudonymise(session, kept, recent)
    # Usage before 2031-11-10 is deleted: October has ended before the cutoff, November not.
    as_of = datetime(2032, 12, 10, tzinfo=UTC)
    now = as_of
    assert hash_key_periods.first_kept_period(periods=PERIODS, as_of=as_of) == "2031-11"
    assert hash_key_periods.count_expired(session, periods=PERIODS, as_of=as_of) >= 3

    destroyed = hash_key_periods.destroy_expired(
        session, periods=PERIODS, as_of=as_of, actor="test:pytest"
    )

    assert destroyed >= 3
    left = _periods(session)
    assert not any(period < "2031-11" for _, period in left)
    assert {(p, "2031-11") for p in USAGE_HASH_PURPOSES} <= left
    assert hash_key_periods.count_expired(session, periods=PERIODS, as_of=as_of) == 0
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert event.action == hash_key_periods.DESTROYED_ACTION
    assert set(event.data) == {"purposes", "periods"}
    assert event.data["purposes"] == sorted(USAGE_HASH_PURPOSES)
    assert "2031-10" in event.data["periods"] and "2031-11" not in event.data["periods"]
    assert IP not in str(event.data) and SERVER not in str(event.data)
    # The row left under October is no longer found by its raw values...
    assert held_license.id not in _found(session, sealer, IP, now)
    assert held_license.id not in _found(session, sealer, SERVER, now)
    assert recent_license.id in _found(session, sealer, IP, now)
    # ...and hashing the value again for October gives another digest (a new key).
    session.refresh(kept)
    assert ip_hash(sealer, IP, period="2031-10") != kept.ip_hash
    assert server_name_hash(sealer, SERVER, period="2031-10") != kept.server_name_hash


def test_retention_destroys_expired_keys_last_and_a_dry_run_only_counts_them(
    session: Session, sealer: Sealer
) -> None:
    for purpose in USAGE_HASH_PURPOSES:
        sealer.period_keyed_hash(purpose, "2020-01", b"a value")
    as_of = datetime(2021, 3, 1, tzinfo=UTC)

    dry = retention.enforce(session, periods=PERIODS, as_of=as_of, dry_run=True)

    assert dry.counts[Step.HASH_KEYS_DESTROYED] >= 3
    assert {(p, "2020-01") for p in USAGE_HASH_PURPOSES} <= _periods(session)

    done = retention.enforce(session, periods=PERIODS, as_of=as_of, dry_run=False)

    assert done.counts[Step.HASH_KEYS_DESTROYED] == dry.counts[Step.HASH_KEYS_DESTROYED]
    assert not any(period <= "2020-01" for _, period in _periods(session))
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(2))
    assert list(actions) == [retention.ENFORCED_ACTION, hash_key_periods.DESTROYED_ACTION]
