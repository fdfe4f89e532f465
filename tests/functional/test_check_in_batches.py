"""The batch statement of the group commit (PostgreSQL): what several check-ins write.

The session here is bound to the test's transaction, so the statement joins it and the
test rolls everything back.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, delete, func, select, text
from sqlalchemy.orm import Session

from licensing.crypto.lease_ids import new_lease_id
from licensing.crypto.sealing import Sealer, hash_period
from licensing.models import Activation, LeasePresentation, ReplayNonce, UsageObservation
from licensing.privacy.pseudonymise import ip_hash, ip_network_prefix
from licensing.services.check_ins import check_in_row
from licensing.services.instance_reports import CheckIn
from licensing.storage.check_in_batches import HeldConnection, write_check_ins_postgresql
from licensing.storage.check_ins import CheckInRow, Recorded
from licensing.storage.group_commit import OutcomeUnknown
from licensing.storage.replay import NonceClaim
from tests.factories import make_license

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture(autouse=True)
def _postgresql_only(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the batch statement is PostgreSQL's (SQLite writes one check-in at a time)")


def live_activation(session: Session, license_id: uuid.UUID, fingerprint: str) -> Activation:
    activation = Activation(
        license_id=license_id,
        fingerprint=fingerprint,
        server_name="old.example.com",
        product_version="1.0.0",
        activated_at=NOW - timedelta(days=3),
        last_check_in_at=NOW - timedelta(days=1),
    )
    session.add(activation)
    session.flush()
    return activation


def row(
    sealer: Sealer,
    license_id: uuid.UUID,
    *,
    fingerprint: str | None = None,
    activation_id: uuid.UUID | None = None,
    ip: str | None = "192.0.2.7",
    server_name: str = "mail.example.com",
    restricted: bool = False,
    usage: dict[str, int] | None = None,
    nonce: str | None = None,
    now: datetime = NOW,
    key_id: str = "key-1",
    presented: str | None = None,
    issued: str | None = None,
) -> CheckInRow:
    report = CheckIn(
        activation_id, fingerprint, server_name, "2.1.0", usage or {}, ip, lease_jti=presented
    )
    claim = NonceClaim(key_id, nonce or secrets.token_hex(8), now + timedelta(minutes=10))
    built = check_in_row(
        sealer,
        license_id=license_id,
        processing_restricted=restricted,
        report=report,
        now=now,
        nonce=claim,
        issued_jti=issued,
    )
    # What the statement does with a presented id; check_in_row keeps only ids that
    # verify (tests/functional/test_lease_chain.py), so short names stand in for them.
    return dataclasses.replace(built, presented_jti=presented)


def observations(session: Session, activation_id: uuid.UUID) -> list[UsageObservation]:
    session.expire_all()
    return list(
        session.scalars(
            select(UsageObservation).where(UsageObservation.activation_id == activation_id)
        )
    )


@pytest.fixture
def license_id(session: Session, sealer: Sealer) -> uuid.UUID:
    return make_license(session, sealer).license.id


def test_check_ins_of_one_activation_add_up_in_one_observation_row(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    activation = live_activation(session, license_id, "fingerprint-batch-0001")
    rows = [
        row(sealer, license_id, fingerprint=activation.fingerprint, usage={"mailboxes": 10}),
        row(sealer, license_id, activation_id=activation.id, now=NOW + timedelta(seconds=1)),
        row(
            sealer,
            license_id,
            fingerprint=activation.fingerprint,
            usage={"mailboxes": 12},
            now=NOW + timedelta(seconds=2),
        ),
    ]

    outcomes = write_check_ins_postgresql(session, rows)

    assert [o.replayed for o in outcomes] == [False, False, False]
    assert {o.activation.id for o in outcomes if o.activation} == {activation.id}
    assert all(o.activation and o.activation.seats_used == 1 for o in outcomes)
    [observed] = observations(session, activation.id)
    assert observed.count == 3
    assert observed.usage == {"mailboxes": 12}  # the latest non-empty report
    assert observed.first_seen == NOW
    assert observed.last_seen == NOW + timedelta(seconds=2)
    session.refresh(activation)
    assert activation.last_check_in_at == NOW + timedelta(seconds=2)
    assert activation.product_version == "2.1.0"
    assert activation.server_name == "mail.example.com"


def test_a_later_batch_counts_on_and_an_empty_report_keeps_the_counters(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    activation = live_activation(session, license_id, "fingerprint-batch-0002")
    fp = activation.fingerprint
    write_check_ins_postgresql(session, [row(sealer, license_id, fingerprint=fp, usage={"u": 5})])

    write_check_ins_postgresql(
        session, [row(sealer, license_id, fingerprint=fp), row(sealer, license_id, fingerprint=fp)]
    )

    [observed] = observations(session, activation.id)
    assert (observed.count, observed.usage) == (3, {"u": 5})


def test_different_addresses_and_activations_get_rows_of_their_own(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    first = live_activation(session, license_id, "fingerprint-batch-0003")
    second = live_activation(session, license_id, "fingerprint-batch-0004")
    rows = [
        row(sealer, license_id, fingerprint=first.fingerprint, ip="192.0.2.1"),
        row(sealer, license_id, fingerprint=first.fingerprint, ip="192.0.2.2"),
        row(sealer, license_id, fingerprint=second.fingerprint, ip="192.0.2.1"),
    ]

    outcomes = write_check_ins_postgresql(session, rows)

    assert [o.activation.id for o in outcomes if o.activation] == [first.id, first.id, second.id]
    assert all(o.activation and o.activation.seats_used == 2 for o in outcomes)
    assert sorted(o.ip for o in observations(session, first.id)) == ["192.0.2.1", "192.0.2.2"]
    assert [o.count for o in observations(session, second.id)] == [1]


def test_a_nonce_is_used_once_within_a_batch_and_across_batches(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    activation = live_activation(session, license_id, "fingerprint-batch-0005")
    fp = activation.fingerprint
    rows = [
        row(sealer, license_id, fingerprint=fp, nonce="nonce-a"),
        row(sealer, license_id, fingerprint=fp, nonce="nonce-a"),
        row(sealer, license_id, fingerprint=fp, nonce="nonce-b"),
    ]

    outcomes = write_check_ins_postgresql(session, rows)
    again = write_check_ins_postgresql(
        session, [row(sealer, license_id, fingerprint=fp, nonce="nonce-b")]
    )

    assert [o.replayed for o in outcomes] == [False, True, False]
    assert outcomes[1].activation is None
    assert [o.replayed for o in again] == [True]
    assert [o.count for o in observations(session, activation.id)] == [2]
    stored = session.scalar(select(func.count()).select_from(ReplayNonce))
    assert stored == 2


def test_no_live_activation_writes_nothing_but_uses_the_nonce(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    released = live_activation(session, license_id, "fingerprint-batch-0006")
    released.status = "released"
    session.flush()
    rows = [
        row(sealer, license_id, fingerprint=released.fingerprint),
        row(sealer, license_id, fingerprint="fingerprint-never-activated"),
        row(sealer, license_id, activation_id=uuid.uuid4()),
    ]

    outcomes = write_check_ins_postgresql(session, rows)

    assert [(o.replayed, o.activation) for o in outcomes] == [(False, None)] * 3
    assert observations(session, released.id) == []
    assert session.scalar(select(func.count()).select_from(ReplayNonce)) == 3


def test_another_licenses_activation_is_not_matched(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    other = make_license(session, sealer).license.id
    activation = live_activation(session, other, "fingerprint-batch-0007")

    [outcome] = write_check_ins_postgresql(
        session, [row(sealer, license_id, activation_id=activation.id)]
    )

    assert outcome.activation is None
    assert observations(session, activation.id) == []


def test_restricted_processing_stores_no_address_server_name_or_counters(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    activation = live_activation(session, license_id, "fingerprint-batch-0008")

    write_check_ins_postgresql(
        session,
        [
            row(
                sealer,
                license_id,
                fingerprint=activation.fingerprint,
                restricted=True,
                usage={"mailboxes": 7},
            )
        ],
    )

    [observed] = observations(session, activation.id)
    values: dict[str, Any] = {
        name: getattr(observed, name)
        for name in ("ip", "ip_hash", "ip_prefix", "server_name", "server_name_hash")
    }
    assert values == dict.fromkeys(values)
    assert observed.usage == {}  # verification needs no usage counters either
    session.refresh(activation)
    assert activation.server_name is None


# --- the lease chain within a batch -----------------------------------------------------------


def chained(session: Session, activation: Activation, stored: str | None) -> Activation:
    activation.lease_jti = stored
    session.flush()
    return activation


def presented(session: Session, license_id: uuid.UUID) -> list[tuple[Any, ...]]:
    session.expire_all()
    return [
        (p.activation_id, p.presented_jti, p.newest_jti, p.at)
        for p in session.scalars(
            select(LeasePresentation)
            .where(LeasePresentation.license_id == license_id)
            .order_by(LeasePresentation.id)
        )
    ]


def newest(session: Session, activation: Activation) -> str | None:
    session.refresh(activation)
    return activation.lease_jti


def test_two_check_ins_of_one_activation_in_one_batch_chain(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    activation = chained(session, live_activation(session, license_id, "fp-chain-0001"), "L0")
    fp, later = activation.fingerprint, NOW + timedelta(seconds=1)
    rows = [
        row(sealer, license_id, fingerprint=fp, presented="L0", issued="L1"),
        # A copy of the same state directory, still holding L0 once L1 was issued.
        row(sealer, license_id, fingerprint=fp, presented="L0", issued="L2", now=later),
    ]

    write_check_ins_postgresql(session, rows)

    assert presented(session, license_id) == [(activation.id, "L0", "L1", later)]
    assert newest(session, activation) == "L2"


def test_a_chain_that_is_followed_within_a_batch_writes_nothing(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    activation = chained(session, live_activation(session, license_id, "fp-chain-0002"), "L0")
    fp = activation.fingerprint
    rows = [
        row(sealer, license_id, fingerprint=fp, presented=held, issued=sent, now=NOW + step)
        for held, sent, step in (
            ("L0", "L1", timedelta(0)),
            ("L1", "L2", timedelta(seconds=1)),
            ("L2", "L3", timedelta(seconds=2)),
        )
    ]

    write_check_ins_postgresql(session, rows)

    assert presented(session, license_id) == []
    assert newest(session, activation) == "L3"


def test_the_batch_order_decides_what_was_newest_and_only_mismatches_are_written(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    activation = chained(session, live_activation(session, license_id, "fp-chain-0003"), "L0")
    fp = activation.fingerprint
    rows = [
        row(sealer, license_id, fingerprint=fp, presented="L0", issued="L1"),
        row(sealer, license_id, fingerprint=fp, presented="L1", issued="L2", now=NOW + SECOND),
        row(sealer, license_id, fingerprint=fp, presented="L1", issued="L3", now=NOW + 2 * SECOND),
        row(sealer, license_id, fingerprint=fp, presented="L3", issued="L4", now=NOW + 3 * SECOND),
    ]

    write_check_ins_postgresql(session, rows)

    assert presented(session, license_id) == [(activation.id, "L1", "L2", NOW + 2 * SECOND)]
    assert newest(session, activation) == "L4"


def test_a_check_in_answered_without_a_lease_does_not_move_the_chain(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    activation = chained(session, live_activation(session, license_id, "fp-chain-0004"), "L0")
    fp = activation.fingerprint
    write_check_ins_postgresql(
        session,
        [
            row(sealer, license_id, fingerprint=fp, presented="L0"),  # no lease sent
            row(sealer, license_id, fingerprint=fp, presented="X", issued="L1", now=NOW + SECOND),
            row(sealer, license_id, fingerprint=fp, presented="L1", now=NOW + 2 * SECOND),
        ],
    )
    assert presented(session, license_id) == [(activation.id, "X", "L0", NOW + SECOND)]
    assert newest(session, activation) == "L1"

    write_check_ins_postgresql(session, [row(sealer, license_id, fingerprint=fp, presented="L1")])
    assert newest(session, activation) == "L1"  # a batch that sends no lease keeps it


def test_chains_of_two_activations_in_one_batch_stay_apart(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    first = chained(session, live_activation(session, license_id, "fp-chain-0005"), "A0")
    second = chained(session, live_activation(session, license_id, "fp-chain-0006"), "B0")
    rows = [
        row(sealer, license_id, fingerprint=first.fingerprint, presented="A0", issued="A1"),
        row(sealer, license_id, fingerprint=second.fingerprint, presented="A1", issued="B1"),
        row(
            sealer,
            license_id,
            activation_id=first.id,
            presented="A1",
            issued="A2",
            now=NOW + SECOND,
        ),
    ]

    write_check_ins_postgresql(session, rows)

    assert presented(session, license_id) == [(second.id, "A1", "B0", NOW)]
    assert (newest(session, first), newest(session, second)) == ("A2", "B1")


def test_old_clients_in_a_batch_write_no_presentation_and_a_replay_writes_nothing(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    activation = chained(session, live_activation(session, license_id, "fp-chain-0007"), "L0")
    fp = activation.fingerprint
    write_check_ins_postgresql(
        session, [row(sealer, license_id, fingerprint=fp, nonce="used-nonce", issued="L1")]
    )

    outcomes = write_check_ins_postgresql(
        session,
        [
            row(sealer, license_id, fingerprint=fp, nonce="used-nonce", presented="X", issued="L9"),
            row(sealer, license_id, fingerprint=fp, issued="L2", now=NOW + SECOND),
        ],
    )

    assert [o.replayed for o in outcomes] == [True, False]
    assert presented(session, license_id) == []
    assert newest(session, activation) == "L2"


def test_each_presentation_in_a_batch_keeps_the_lease_its_check_in_issued(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    activation = chained(session, live_activation(session, license_id, "fp-chain-0009"), "L0")
    fp = activation.fingerprint
    write_check_ins_postgresql(
        session,
        [
            row(sealer, license_id, fingerprint=fp, issued="L1"),
            row(sealer, license_id, fingerprint=fp, presented="L0", issued="L2", now=NOW + SECOND),
            row(sealer, license_id, fingerprint=fp, presented="L0", now=NOW + 2 * SECOND),
        ],
    )

    session.expire_all()
    found = session.scalars(
        select(LeasePresentation)
        .where(LeasePresentation.license_id == license_id)
        .order_by(LeasePresentation.at)
    ).all()
    assert [(p.presented_jti, p.newest_jti, p.issued_jti) for p in found] == [
        ("L0", "L1", "L2"),
        ("L0", "L2", None),  # an answer without a lease (a refused verdict) issued none
    ]


def test_check_in_row_keeps_only_a_presented_id_issued_to_its_activation(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    activation = chained(session, live_activation(session, license_id, "fp-chain-0010"), "L0")
    other = live_activation(session, license_id, "fp-chain-0011")
    mine = new_lease_id(
        sealer, license_id=license_id, activation_id=activation.id, fingerprint=None
    )
    theirs = new_lease_id(sealer, license_id=license_id, activation_id=other.id, fingerprint=None)

    def built(presented: str) -> CheckInRow:
        report = CheckIn(activation.id, None, "m", "2.1.0", {}, None, lease_jti=presented)
        return check_in_row(
            sealer, license_id=license_id, processing_restricted=False, report=report, now=NOW
        )

    guessed = "A" * 16 + "." + "A" * 12 + "."
    rows = [built(p) for p in (mine, theirs, str(uuid.uuid4()), guessed)]
    assert [r.presented_jti for r in rows] == [mine, None, None, None]

    write_check_ins_postgresql(session, rows)

    assert [p[1] for p in presented(session, license_id)] == [mine]


def test_a_presentation_carries_the_observations_network_unless_restricted(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> None:
    activation = chained(session, live_activation(session, license_id, "fp-chain-0008"), "L0")
    fp = activation.fingerprint
    write_check_ins_postgresql(
        session,
        [
            row(sealer, license_id, fingerprint=fp, presented="X", ip="198.51.100.9"),
            row(sealer, license_id, fingerprint=fp, presented="Y", restricted=True),
        ],
    )

    session.expire_all()
    rows = session.scalars(
        select(LeasePresentation)
        .where(LeasePresentation.license_id == license_id)
        .order_by(LeasePresentation.presented_jti)
    ).all()
    assert [(r.ip_prefix, r.ip_hash) for r in rows] == [
        (
            ip_network_prefix("198.51.100.9"),
            ip_hash(sealer, "198.51.100.9", period=hash_period(rows[0].at.date())),
        ),
        (None, None),
    ]


# --- the held connection: outside any test transaction, so what it writes is committed ---

HELD_KEY_ID = "held-connection-test"
HELD_APPLICATION = "licensing-held-connection-test"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url, connect_args={"application_name": HELD_APPLICATION})
    yield engine
    with engine.begin() as connection:
        connection.execute(delete(ReplayNonce).where(ReplayNonce.key_id == HELD_KEY_ID))
    engine.dispose()


def used_nonces(engine: Engine) -> int:
    with engine.connect() as connection:
        query = select(func.count()).where(ReplayNonce.key_id == HELD_KEY_ID)
        return int(connection.scalar(query) or 0)


def unknown_license_batch(sealer: Sealer) -> list[CheckInRow]:
    """A check-in of no live activation: it writes its nonce and nothing else."""
    return [row(sealer, uuid.uuid4(), fingerprint="fingerprint-held-01", key_id=HELD_KEY_ID)]


def test_batches_are_written_and_committed_on_one_held_connection(
    engine: Engine, sealer: Sealer
) -> None:
    held, session = HeldConnection(), Session(engine)

    first = write_check_ins_postgresql(session, unknown_license_batch(sealer), held=held)
    cursor = held._cursor
    second = write_check_ins_postgresql(session, unknown_license_batch(sealer), held=held)

    assert first == second == [Recorded(replayed=False, activation=None)]
    assert held._cursor is cursor and not cursor.closed  # its cursor is kept too
    assert engine.pool.checkedout() == 1  # kept between batches
    assert used_nonces(engine) == 2  # committed: another connection sees both
    held.release()
    assert engine.pool.checkedout() == 0
    assert cursor.closed


def test_a_held_connection_that_breaks_is_given_up_and_replaced(
    engine: Engine, sealer: Sealer
) -> None:
    held, session = HeldConnection(), Session(engine)
    write_check_ins_postgresql(session, unknown_license_batch(sealer), held=held)
    with engine.connect() as other:
        other.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = :name AND pid <> pg_backend_pid()"
            ),
            {"name": HELD_APPLICATION},
        )

    # Whether PostgreSQL committed the batch cannot be known, so it must not be rewritten.
    with pytest.raises(OutcomeUnknown) as failed:
        write_check_ins_postgresql(session, unknown_license_batch(sealer), held=held)
    assert isinstance(failed.value.__cause__, psycopg.OperationalError)
    assert engine.pool.checkedout() == 0

    again = write_check_ins_postgresql(session, unknown_license_batch(sealer), held=held)
    assert again == [Recorded(replayed=False, activation=None)]
    assert used_nonces(engine) == 2
    held.release()
