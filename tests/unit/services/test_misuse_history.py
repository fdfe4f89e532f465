"""Histories built from the database: what each part of LicenseHistory is read from, a
fixed number of queries per chunk, and raw and pseudonymised rows deciding alike."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.misuse.findings import Finding, Rule
from licensing.misuse.rules import evaluate
from licensing.misuse.thresholds import Thresholds
from licensing.models import License
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


def _source(session: Session, *, summed: bool = True) -> HistorySource:
    return HistorySource(session, now=NOW, lookback=LOOKBACK, summed=summed)


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
    lease_presented(session, one, "jti-1", "jti-2", NOW - HOUR, issued="jti-3")
    lease_presented(session, one, "jti-0", "jti-1", NOW - 40 * DAY)  # before the lookback
    signature_failures(session, license.key_id, NOW - 2 * HOUR, 25)
    signature_failures(session, license.key_id, NOW - 31 * DAY, 25)

    (history,) = _source(session, summed=False).histories([license.id])

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
    assert [(p.presented_jti, p.newest_jti, p.issued_jti) for p in history.lease_presentations] == [
        ("jti-1", "jti-2", "jti-3")
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
    assert all(len(h.observations) == 1 for h in histories)  # summed over the days
    # The release dates are read once per product and source: both read them here.
    assert len(six) == len(one) <= 8


def _pattern(session: Session, sealer: Sealer, *, pseudonymised: bool) -> str:
    """A license showing spread, an overstay and clones, in raw or pseudonymised rows."""
    issued = make_license(session, sealer)
    license = issued.license
    license.upgrade_protection_until = None  # its product has no releases: see _unprotected
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


def test_a_license_whose_days_cannot_matter_is_read_summed(
    session: Session, sealer: Sealer
) -> None:
    simple = make_license(session, sealer).license
    one = seat(session, simple.id, activated_days_ago=60)
    daily(session, one, 40)  # 31 days in the lookback, and earlier ones
    daily(session, one, 2, version="3.0")
    split = make_license(session, sealer).license
    two = seat(session, split.id, activated_days_ago=60)
    daily(session, two, 5)
    daily(session, two, 5, network="192.0.2")

    histories = {h.license_id: h for h in _source(session).histories([simple.id, split.id])}

    summed = sorted(histories[str(simple.id)].observations, key=lambda o: o.product_version or "")
    assert [(o.product_version, o.count) for o in summed] == [("2.0.0", 31 * 24), ("3.0", 3 * 24)]
    assert summed[0].first_seen.date() == (NOW - LOOKBACK).date()  # its last_seen is after
    assert summed[0].last_seen.date() == NOW.date()
    assert summed[0].day == NOW.date()
    assert len(histories[str(split.id)].observations) == 12  # two networks: day by day


def _unprotected(license: Any) -> Any:
    """No end to the license's upgrade protection. Its product has no release records, and
    with an end any version would be uncovered (as the check-in verdict would answer)."""
    license.upgrade_protection_until = None
    return license


def _everything(session: Session, sealer: Sealer) -> list[uuid.UUID]:
    """One license per rule's pattern and per look-alike, and quiet ones."""
    made = [uuid.UUID(_pattern(session, sealer, pseudonymised=n == 1)) for n in range(2)]

    def license(**changes: Any) -> Any:
        issued = _unprotected(make_license(session, sealer).license)
        for name, value in changes.items():
            setattr(issued, name, value)
        made.append(issued.id)
        return issued

    edition = make_edition(session)
    make_release(session, product=edition.product, version="4.0", released_at=NOW - 20 * DAY)
    make_release(session, product=edition.product, version="3.0", released_at=NOW - 400 * DAY)
    # VERSION_NOT_COVERED, and the covered look-alike.
    for protected_until in (NOW - 100 * DAY, NOW):
        issued = make_license(session, sealer, edition=edition).license
        issued.upgrade_protection_until = protected_until
        made.append(issued.id)
        daily(session, seat(session, issued.id, activated_days_ago=50), 10, version="4.0")
    # REVOKED_CALLING_HOME, and one that stopped within the grace.
    for stopped in (0, 29):
        revoked = license(status="revoked", status_changed_at=NOW - 30 * DAY)
        daily(session, seat(session, revoked.id, activated_days_ago=50), 40, stopped)
    # ACTIVATION_CHURN.
    churning = license()
    for n in range(5):
        seat(
            session,
            churning.id,
            activated_days_ago=6 - n,
            released_days_ago=5.5 - n,
            release_reason="deactivated",
        )
    # SIGNATURE_FAILURES, and occasional ones.
    for count in (30, 3):
        failing = license()
        signature_failures(session, failing.key_id, NOW - 3 * HOUR, count)
        daily(session, seat(session, failing.id, activated_days_ago=50), 10)
    # CLONED_INSTANCE by lease chain, and a restore from a backup.
    for conflicts in (3, 1):
        cloned = license()
        activation = seat(session, cloned.id, activated_days_ago=50)
        daily(session, activation, 10)
        for n in range(conflicts):
            lease_presented(session, activation, f"jti-{n}", f"jti-{n + 1}", NOW - (n + 1) * HOUR)
        lease_presented(session, activation, f"jti-{conflicts}", f"jti-{conflicts}", NOW)
    # MIGRATION_OVERSTAY alone, and a migration inside the window.
    for old_seat_until in (0, 40):
        moving = license()
        daily(session, seat(session, moving.id, activated_days_ago=70), 70, old_seat_until)
        daily(session, seat(session, moving.id, activated_days_ago=45), 45, server="new")
    # CLONED_INSTANCE by networks alone, and a one-off move.
    for days in (4, 0):
        copied = license()
        activation = seat(session, copied.id, activated_days_ago=50)
        daily(session, activation, 10)
        daily(session, activation, days, network="192.0.2")
    # SERVER_SPREAD on one seat, a NATed office of many seats, and quiet ones.
    spread = license()
    for n in range(5):
        daily(session, seat(session, spread.id, activated_days_ago=50), 10, server=f"s-{n}")
    office = license(max_activations_override=10)
    for n in range(8):
        daily(session, seat(session, office.id, activated_days_ago=50), 20, host=n, server=f"d{n}")
    for _ in range(3):
        quiet = license()
        daily(session, seat(session, quiet.id, activated_days_ago=90), 80)
    return made


def test_summed_and_daily_readings_give_the_same_findings(session: Session, sealer: Sealer) -> None:
    ids = _everything(session, sealer)

    def findings(summed: bool, consecutive: bool = False) -> dict[str, list[dict[str, Any]]]:
        chosen = sorted(ids) if consecutive else ids
        return {
            h.license_id: [f.to_json() for f in evaluate(h, Thresholds(), NOW)]
            for h in _source(session, summed=summed).histories(chosen, consecutive=consecutive)
        }

    summed, daily_read = findings(True), findings(False)

    assert summed == daily_read
    # Every license of the test, read as one range of ids (a chunk of a full pass).
    assert session.scalar(select(func.count()).select_from(License)) == len(ids)
    assert findings(True, consecutive=True) == summed
    fired = {finding["rule"] for found in summed.values() for finding in found}
    assert fired == {rule.value for rule in Rule}
    assert sum(not found for found in summed.values()) >= 7  # the look-alikes stay quiet
