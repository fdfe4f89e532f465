"""Seats: the rule in Python and its SQL mirrors in the check-in statements agree.

The touch statement (every backend) and the batch statement (PostgreSQL only, skipped
elsewhere) count a license's seats in the same round trip as the check-in; on the same
licenses they must report what ``services.seats`` reports.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Activation, ActivationStatus, License, ReleaseReason
from licensing.services import seats
from licensing.services.check_ins import check_in_row
from licensing.services.instance_reports import CheckIn
from licensing.services.seats import Seats
from licensing.storage import statements
from licensing.storage.check_in_batches import write_check_ins_postgresql
from licensing.storage.replay import NonceClaim
from tests.databases import TEST_DATABASE_ENV
from tests.factories import make_edition, make_license

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

# (seats override, live activations, released ones, migration seat ends in days: + live, - past)
SHAPES = [
    (None, 1, 0, []),
    (None, 2, 1, [5]),  # one seat over the limit while the customer moves
    (None, 3, 2, [-2, 7]),  # one migration seat has run out, one has not
    (3, 3, 1, [4]),  # the override covers what the edition would count as migration
    (2, 1, 3, []),
]


def _activation(
    session: Session, license: License, index: int, *, live: bool, migration: int | None
) -> Activation:
    activation = Activation(
        license_id=license.id,
        fingerprint=f"seat-{license.key_id}-{index}",
        server_name=None,
        product_version="1.0.0",
        activated_at=NOW - timedelta(days=10, minutes=index),
        last_check_in_at=NOW - timedelta(days=1),
        migration_until=None if migration is None else NOW + timedelta(days=migration),
    )
    if not live:
        activation.status = ActivationStatus.RELEASED
        activation.released_at = NOW - timedelta(days=1)
        activation.release_reason = ReleaseReason.DEACTIVATED
    session.add(activation)
    return activation


@pytest.fixture
def licensed(session: Session, sealer: Sealer) -> list[tuple[License, Activation]]:
    """Licenses of the shapes above, each with the live activation that checks in."""
    edition = make_edition(session, max_activations=1)
    made = []
    for override, live, released, migrations in SHAPES:
        license = make_license(session, sealer, edition=edition).license
        license.max_activations_override = override
        ends = iter(migrations)
        held = [
            _activation(session, license, i, live=True, migration=next(ends, None))
            for i in range(live)
        ]
        for i in range(released):
            _activation(session, license, live + i, live=False, migration=5)
        made.append((license, held[0]))
    session.flush()
    return made


def _rule(session: Session, license: License) -> Seats:
    return seats.count(session, license.id, allowed=seats.allowed(license), now=NOW)


def test_allowed_seats_are_the_override_else_the_editions(
    session: Session, licensed: list[tuple[License, Activation]]
) -> None:
    assert [seats.allowed(license) for license, _ in licensed] == [1, 1, 1, 3, 2]


def test_the_rule_counts_live_seats_and_a_running_migration_seat(
    session: Session, licensed: list[tuple[License, Activation]]
) -> None:
    figures = [_rule(session, license) for license, _ in licensed]
    assert [(f.used, f.allowed) for f in figures] == [(1, 1), (2, 1), (3, 1), (3, 3), (1, 2)]
    assert [f.migration_until for f in figures] == [
        None,
        NOW + timedelta(days=5),
        NOW + timedelta(days=7),
        None,  # within the override: no migration seat in use
        None,
    ]


def test_the_touch_statement_counts_as_the_rule(
    session: Session, licensed: list[tuple[License, Activation]]
) -> None:
    connection = session.connection()
    for license, activation in licensed:
        touched = connection.execute(
            statements.touch_activation(by_id=True, by_fingerprint=False),
            {
                "p_license_id": license.id,
                "p_activation_id": activation.id,
                "p_fingerprint": None,
                "p_now": NOW,
                "p_server_name": None,
                "p_product_version": "1.0.0",
                "p_lease_jti": None,
            },
        ).one()
        _, _, _, used, migration_until = touched
        assert seats.reported(used, seats.allowed(license), migration_until) == _rule(
            session, license
        )
        assert (used, migration_until) == (
            seats.in_use(session, license.id),
            seats.migration_ends(session, license.id, now=NOW),
        )


@pytest.mark.skipif(
    not os.environ.get(TEST_DATABASE_ENV, "").strip(),
    reason=f"the batch statement is PostgreSQL's: {TEST_DATABASE_ENV} is not set",
)
def test_the_batch_statement_counts_as_the_rule(
    session: Session, sealer: Sealer, licensed: list[tuple[License, Activation]]
) -> None:
    rows = []
    for license, activation in licensed:
        report = CheckIn(activation.id, None, "", "1.0.0", {}, None)
        claim = NonceClaim(license.key_id, secrets.token_hex(8), NOW + timedelta(minutes=5))
        rows.append(
            check_in_row(
                sealer,
                license_id=license.id,
                processing_restricted=True,
                report=report,
                now=NOW,
                nonce=claim,
            )
        )

    outcomes = write_check_ins_postgresql(session, rows)

    for (license, _), outcome in zip(licensed, outcomes, strict=True):
        live = outcome.activation
        assert live is not None
        assert seats.reported(live.seats_used, seats.allowed(license), live.migration_until) == (
            _rule(session, license)
        )
        assert (live.seats_used, live.migration_until) == (
            seats.in_use(session, license.id),
            seats.migration_ends(session, license.id, now=NOW),
        )


def test_the_figures_differ_when_the_data_does(
    session: Session, licensed: list[tuple[License, Activation]]
) -> None:
    """The agreement above is not two empty answers: releasing a seat changes both."""
    license, activation = licensed[1]
    before = _rule(session, license)
    activation.status = ActivationStatus.RELEASED
    session.flush()
    assert _rule(session, license) == Seats(1, 1, None) != before
