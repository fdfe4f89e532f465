"""Histories built from the database: what each part of LicenseHistory is read from, a
fixed number of queries per chunk, and raw and pseudonymised rows deciding alike."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.misuse.findings import Finding, Rule
from licensing.misuse.rules import evaluate
from licensing.misuse.thresholds import Thresholds
from licensing.services.misuse_history import HistorySource
from tests.factories import make_edition, make_license, make_release
from tests.unit.services.misuse_rows import (
    DAY,
    HOUR,
    NOW,
    daily,
    keyed,
    lease_presented,
    seat,
    signature_failures,
)

LOOKBACK = timedelta(days=30)


def _source(session: Session) -> HistorySource:
    return HistorySource(session, now=NOW, lookback=LOOKBACK)


def test_a_history_holds_terms_seats_observations_leases_and_failures(
    session: Session, sealer: Sealer
) -> None:
    edition = make_edition(
        session, max_activations=2, migration_window_days=10, check_in_interval_seconds=3600
    )
    make_release(session, product=edition.product, version="3.0", released_at=NOW - 50 * DAY)
    issued = make_license(session, sealer, edition=edition)
    license = issued.license
    license.max_activations_override = 3
    license.upgrade_protection_until = NOW - 100 * DAY
    one = seat(session, license.id, activated_days_ago=60)
    gone = seat(session, license.id, activated_days_ago=200, released_days_ago=100)
    daily(session, one, 45, version="3.0")  # 10 days before the lookback: seat history
    daily(session, gone, 60, 50)  # before the migration window, too: not read
    lease_presented(session, one, "jti-1", "jti-2", NOW - HOUR)
    lease_presented(session, one, "jti-0", "jti-1", NOW - 40 * DAY)  # before the lookback
    signature_failures(session, license.key_id, NOW - 2 * HOUR, 25)
    signature_failures(session, license.key_id, NOW - 31 * DAY, 25)

    (history,) = _source(session).histories([license.id])

    assert history.license_id == str(license.id)
    assert (history.status, history.allowed_activations) == ("active", 3)
    assert history.migration_window == 10 * DAY
    assert history.check_in_interval == HOUR
    assert history.upgrade_protection_until == NOW - 100 * DAY
    assert history.release_dates == {"3.0": NOW - 50 * DAY}
    assert [a.activation_id for a in history.activations] == [str(one.id)]
    (timeline,) = history.activations
    assert timeline.fingerprint == one.fingerprint
    assert timeline.first_seen is not None and timeline.last_seen is not None
    assert timeline.last_seen.date() == NOW.date()
    recent = history.observations_since(NOW - LOOKBACK)
    assert {o.ip_key for o in recent} == {keyed("ip", "198.51.100.7").hex()}
    assert {o.server_key for o in recent} == {keyed("server-name", "app-1.example.com").hex()}
    assert {(o.network, o.product_version) for o in recent} == {("198.51.100.0/24", "3.0")}
    older = [o for o in history.observations if o.day < (NOW - LOOKBACK).date()]
    assert len(older) == 10  # the migration window before the lookback, not all 15 days
    assert {(o.ip_key, o.network, o.server_key, o.product_version) for o in older} == {
        (None, None, None, None)
    }
    assert [(p.presented_jti, p.newest_jti) for p in history.lease_presentations] == [
        ("jti-1", "jti-2")
    ]
    assert [(f.key_id, f.count) for f in history.signature_failures] == [(license.key_id, 25)]


def test_unknown_licenses_have_no_history(session: Session, sealer: Sealer) -> None:
    assert _source(session).histories([uuid.uuid4()]) == []


@contextmanager
def _statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = session.get_bind().engine

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_queries_per_chunk_do_not_grow_with_its_licenses(
    session: Session, sealer: Sealer
) -> None:
    edition = make_edition(session)
    licenses = [make_license(session, sealer, edition=edition).license for _ in range(6)]
    for license in licenses:
        activation = seat(session, license.id, activated_days_ago=40)
        daily(session, activation, 35)
        lease_presented(session, activation, "a", "b", NOW - HOUR)
        signature_failures(session, license.key_id, NOW - HOUR, 1)

    with _statements(session) as one:
        _source(session).histories([licenses[0].id])
    with _statements(session) as six:
        histories = _source(session).histories([license.id for license in licenses])

    assert len(histories) == 6
    assert all(len(h.observations) == 36 for h in histories)
    # The release dates are read once per product and source: both read them here.
    assert len(six) == len(one) <= 7


def _pattern(session: Session, sealer: Sealer, *, pseudonymised: bool) -> str:
    """A license showing spread, an overstay and clones, in raw or pseudonymised rows."""
    issued = make_license(session, sealer)
    license = issued.license
    first = seat(session, license.id, activated_days_ago=70)
    second = seat(session, license.id, activated_days_ago=45)
    daily(session, first, 70, pseudonymised=pseudonymised)
    daily(session, second, 45, server="app-2", pseudonymised=pseudonymised)
    daily(session, second, 4, network="192.0.2", server="copy", pseudonymised=pseudonymised)
    for n in range(6):
        daily(
            session,
            first,
            3,
            network=f"203.0.{n}",
            server=f"host-{n}",
            pseudonymised=pseudonymised,
        )
    return str(license.id)


def _comparable(findings: list[Finding]) -> list[tuple[object, ...]]:
    return [(f.rule, f.severity, f.first_seen, f.last_seen, f.summary) for f in findings]


def test_raw_and_pseudonymised_rows_give_the_same_findings(
    session: Session, sealer: Sealer
) -> None:
    raw_id = _pattern(session, sealer, pseudonymised=False)
    pseudonymised_id = _pattern(session, sealer, pseudonymised=True)
    histories = {
        h.license_id: h
        for h in _source(session).histories([uuid.UUID(raw_id), uuid.UUID(pseudonymised_id)])
    }

    raw = evaluate(histories[raw_id], Thresholds(), NOW)
    pseudonymised = evaluate(histories[pseudonymised_id], Thresholds(), NOW)

    assert {f.rule for f in raw} == {
        Rule.MIGRATION_OVERSTAY,
        Rule.SERVER_SPREAD,
        Rule.NETWORK_SPREAD,
        Rule.CLONED_INSTANCE,
    }
    assert _comparable(pseudonymised) == _comparable(raw)
