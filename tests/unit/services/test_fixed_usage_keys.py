"""The fixed usage keys after the upgrade to monthly keys (migration 0013): the rows they
hashed form a key period of their own in the misuse rules, and the keys are destroyed
by retention once no row they hashed is left, after which search no longer uses them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import (
    HASH_KEYS_TABLE,
    HASH_PURPOSES,
    USAGE_HASH_PURPOSES,
    Sealer,
    hash_period,
)
from licensing.misuse.history import FIXED_KEY_PERIOD, distinct_per_period
from licensing.misuse.spread import server_spread
from licensing.misuse.thresholds import Thresholds
from licensing.models import Activation, AuditEvent, HashKey, LegalHold, UsageObservation
from licensing.models.privacy import HoldScope
from licensing.privacy.categories import RetentionPeriods
from licensing.privacy.pseudonymise import ip_hashes, server_name_hashes
from licensing.services import fixed_usage_keys, hash_key_periods, retention
from licensing.services.check_ins import record_check_in
from licensing.services.instance_reports import CheckIn
from licensing.services.misuse_history import HistorySource
from licensing.services.retention import Step
from licensing.timeutil import utcnow
from tests.factories import make_license

PERIODS = RetentionPeriods()
IP = "198.51.100.23"
OLD_SERVER, NEW_SERVER = "mail-old.example.com", "mail-new.example.com"


def _seat(session: Session, license_id: uuid.UUID, server: str, at: datetime) -> Activation:
    activation = Activation(
        license_id=license_id,
        fingerprint=uuid.uuid4().hex,
        server_name=server,
        product_version="2.0.0",
        activated_at=at - timedelta(days=3),
        last_check_in_at=at,
    )
    session.add(activation)
    session.flush()
    return activation


def _before_upgrade(
    session: Session, sealer: Sealer, seat: Activation, server: str, at: datetime
) -> UsageObservation:
    """A row as check-ins wrote it before monthly keys: every hash under the fixed keys."""
    row = UsageObservation(
        activation_id=seat.id,
        license_id=seat.license_id,
        day=at.date(),
        observation_key=sealer.keyed_hash("observation", f"{IP}\x00{server}".encode()),
        ip=IP,
        ip_hash=sealer.keyed_hash("ip", IP.encode()),
        ip_prefix="198.51.100.0/24",
        server_name=server,
        server_name_hash=sealer.keyed_hash("server-name", server.encode()),
        product_version="2.0.0",
        first_seen=at,
        last_seen=at,
    )
    session.add(row)
    session.flush()
    return row


def _after_upgrade(
    session: Session, sealer: Sealer, seat: Activation, server: str, at: datetime
) -> None:
    """A check-in through the check-in path: its month's keys, made now on first use."""
    report = CheckIn(
        activation_id=seat.id,
        fingerprint=None,
        server_name=server,
        product_version="2.0.0",
        usage={},
        ip=IP,
    )
    record_check_in(
        session,
        sealer,
        license_id=seat.license_id,
        processing_restricted=False,
        report=report,
        now=at,
    )


@pytest.mark.parametrize("summed", [True, False], ids=["summed", "daily"])
def test_a_server_seen_before_and_after_the_upgrade_in_one_month_counts_once(
    session: Session, sealer: Sealer, summed: bool
) -> None:
    now = utcnow()
    license = make_license(session, sealer).license
    seat = _seat(session, license.id, OLD_SERVER, now)
    # Earlier the same day (or the day before, should that be last month): the fixed keys.
    _before_upgrade(session, sealer, seat, OLD_SERVER, now - timedelta(hours=2))
    # The first check-in after the upgrade: it makes the month's first keys, a moment
    # after the time it was stamped with.
    _after_upgrade(session, sealer, seat, OLD_SERVER, now)

    source = HistorySource(session, now=now, lookback=timedelta(days=30), summed=summed)
    (history,) = source.histories([license.id])

    assert {o.key_period for o in history.observations if o.server_key} == {
        FIXED_KEY_PERIOD,
        hash_period(now.date()),
    }
    assert distinct_per_period(history.observations, lambda o: o.server_key) == 1
    assert distinct_per_period(history.observations, lambda o: o.ip_key) == 1


def test_a_one_seat_license_moving_servers_across_the_upgrade_is_not_server_spread(
    session: Session, sealer: Sealer
) -> None:
    now = utcnow()
    license = make_license(session, sealer).license
    for server in (OLD_SERVER, NEW_SERVER):  # the migration window: both servers run
        seat = _seat(session, license.id, server, now)
        _before_upgrade(session, sealer, seat, server, now - timedelta(hours=3))
        _after_upgrade(session, sealer, seat, server, now)

    (history,) = HistorySource(session, now=now, lookback=timedelta(days=30)).histories(
        [license.id]
    )

    assert history.allowed_activations == 1
    # Counted in one period, the two servers' four hashes would exceed 3 x 1 seat.
    assert distinct_per_period(history.observations, lambda o: o.server_key) == 2
    assert server_spread(history, Thresholds(), now) == []


def _store_fixed_keys(session: Session, sealer: Sealer) -> None:
    """As a master-key rotation leaves them: every fixed key stored, sealed (the keys of
    HASH_PURPOSES only; a purpose hashed ad hoc by an earlier test is not one)."""
    for purpose, key in sealer.hash_keys().items():
        if purpose not in HASH_PURPOSES:
            continue
        sealed = sealer.seal(key, table=HASH_KEYS_TABLE, row_id=purpose)
        session.add(HashKey(purpose=purpose, sealed_key=sealed))
    session.flush()


def _stored_fixed(session: Session) -> set[str]:
    return set(session.scalars(select(HashKey.purpose).where(HashKey.period == "")))


def test_the_fixed_usage_keys_stay_while_a_row_under_them_is_left_then_go(
    session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    seen = datetime(2025, 3, 10, 9, tzinfo=UTC)
    seat = _seat(session, license.id, OLD_SERVER, seen)
    old = _before_upgrade(session, sealer, seat, OLD_SERVER, seen)
    old_ip_hash, old_server_hash = old.ip_hash, old.server_name_hash
    _store_fixed_keys(session, sealer)
    session.commit()

    # Eleven months on, the row is kept (pseudonymised): so are the keys it was hashed by.
    kept = retention.enforce(
        session, periods=PERIODS, as_of=datetime(2026, 2, 1, tzinfo=UTC), dry_run=False
    )
    assert kept.counts[Step.USAGE_DELETED] == 0
    assert set(USAGE_HASH_PURPOSES) <= _stored_fixed(session)
    held = hash_key_periods.stored_period_keys(session, "ip")
    assert old_ip_hash in ip_hashes(sealer, IP, held)

    as_of = datetime(2026, 6, 1, tzinfo=UTC)
    dry = retention.enforce(session, periods=PERIODS, as_of=as_of, dry_run=True)
    assert dry.counts[Step.HASH_KEYS_DESTROYED] == len(USAGE_HASH_PURPOSES)
    assert set(USAGE_HASH_PURPOSES) <= _stored_fixed(session)

    done = retention.enforce(session, periods=PERIODS, as_of=as_of, dry_run=False)

    assert done.counts[Step.USAGE_DELETED] == 1
    assert done.counts[Step.HASH_KEYS_DESTROYED] == len(USAGE_HASH_PURPOSES)
    assert _stored_fixed(session) == set(HASH_PURPOSES) - set(USAGE_HASH_PURPOSES)
    # An old hash left somewhere (a backup) is matched by no search any more.
    ip_held = hash_key_periods.stored_period_keys(session, "ip")
    assert not ip_held.fixed_key_in_use
    assert old_ip_hash not in ip_hashes(sealer, IP, ip_held)
    names_held = hash_key_periods.stored_period_keys(session, "server-name")
    assert old_server_hash not in server_name_hashes(sealer, OLD_SERVER, names_held)
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == hash_key_periods.DESTROYED_ACTION)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).one()
    assert event.data == {"purposes": sorted(USAGE_HASH_PURPOSES), "periods": [], "fixed": True}
    # Stored keys were destroyed: nothing left to say about derived ones.
    assert not any("rotation" in note for note in done.notes)
    again = retention.enforce(session, periods=PERIODS, as_of=as_of, dry_run=False)
    assert again.counts[Step.HASH_KEYS_DESTROYED] == 0


def test_a_held_row_from_before_monthly_keys_keeps_the_fixed_usage_keys(
    session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    seen = datetime(2025, 3, 10, 9, tzinfo=UTC)
    _before_upgrade(session, sealer, _seat(session, license.id, OLD_SERVER, seen), OLD_SERVER, seen)
    _store_fixed_keys(session, sealer)
    session.add(
        LegalHold(
            scope=HoldScope.LICENSE,
            license_id=license.id,
            matter="M-1",
            reason="a dispute",
            placed_by="test:pytest",
            review_on=date(2027, 1, 1),
        )
    )
    session.commit()

    done = retention.enforce(
        session, periods=PERIODS, as_of=datetime(2026, 6, 1, tzinfo=UTC), dry_run=False
    )

    assert done.counts[Step.USAGE_DELETED] == 0
    assert done.counts[Step.HASH_KEYS_DESTROYED] == 0
    assert set(USAGE_HASH_PURPOSES) <= _stored_fixed(session)
    assert hash_key_periods.stored_period_keys(session, "ip").fixed_key_in_use


def test_fixed_usage_keys_never_stored_are_named_as_only_a_rotation_can_unlink(
    session: Session, sealer: Sealer
) -> None:
    done = retention.enforce(
        session, periods=PERIODS, as_of=datetime(2026, 6, 1, tzinfo=UTC), dry_run=False
    )

    assert fixed_usage_keys.derived_only(session)
    assert done.counts[Step.HASH_KEYS_DESTROYED] == 0
    assert any("next master-key rotation" in note for note in done.notes)


def test_never_stored_fixed_keys_are_searched_only_while_a_row_under_them_is_left(
    session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    seen = datetime(2025, 3, 10, 9, tzinfo=UTC)
    old = _before_upgrade(
        session, sealer, _seat(session, license.id, OLD_SERVER, seen), OLD_SERVER, seen
    )
    old_ip_hash = old.ip_hash
    assert old_ip_hash in ip_hashes(sealer, IP, hash_key_periods.stored_period_keys(session, "ip"))

    session.delete(old)
    session.flush()

    held = hash_key_periods.stored_period_keys(session, "ip")
    assert not held.fixed_key_in_use
    assert old_ip_hash not in ip_hashes(sealer, IP, held)
