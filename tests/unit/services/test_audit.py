"""The audit log is a hash chain: every state change appends, any tampering is found."""

from __future__ import annotations

from itertools import pairwise

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import AuditEvent
from licensing.services import audit, licenses, server_keys
from tests.factories import make_customer, make_edition, make_license, make_product, make_release


def record_events(session: Session, count: int) -> list[AuditEvent]:
    return [
        audit.record(
            session,
            actor="test:audit",
            action="test.event",
            subject_type="test",
            subject_id=number,
            data={"number": number, "note": "ünïcode"},
        )
        for number in range(1, count + 1)
    ]


def reload(session: Session) -> None:
    """Make the next read come from the database, as a later process would see it."""
    session.flush()
    session.expire_all()


def test_an_untouched_chain_verifies(session: Session) -> None:
    events = record_events(session, 5)
    assert [event.seq for event in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == audit.GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(events))
    reload(session)

    report = audit.verify(session, batch=2)
    assert (report.intact, report.events, report.problem) == (True, 5, None)
    assert audit.count(session) == 5


def test_an_empty_log_verifies(session: Session) -> None:
    assert audit.verify(session).intact


def test_altered_data_is_found_at_its_event(session: Session) -> None:
    record_events(session, 5)
    session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(data={"number": 33}))
    reload(session)

    report = audit.verify(session)
    assert (report.intact, report.first_broken_seq) == (False, 3)
    assert report.problem == "event 3 was altered after it was written"


def test_a_deleted_event_is_found(session: Session) -> None:
    record_events(session, 5)
    session.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
    reload(session)

    report = audit.verify(session)
    assert (report.intact, report.first_broken_seq) == (False, 2)
    assert report.problem == "event 2 is missing"


def test_a_relinked_event_is_found(session: Session) -> None:
    record_events(session, 5)
    session.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(prev_hash="f" * 64))
    reload(session)

    report = audit.verify(session)
    assert (report.intact, report.first_broken_seq) == (False, 4)
    assert report.problem == "event 4 does not link to its predecessor"


def test_every_state_change_appends_to_one_intact_chain(
    session: Session, sealer: Sealer, actor: str
) -> None:
    product = make_product(session, actor=actor)
    edition = make_edition(session, product=product, term_days=365, actor=actor)
    make_release(session, product=product, actor=actor)
    license = make_license(
        session, sealer, edition=edition, customer=make_customer(session, actor=actor), actor=actor
    ).license
    licenses.suspend(session, license, reason="unpaid", actor=actor)
    licenses.reinstate(session, license, reason="paid", actor=actor)
    licenses.renew_upgrade_protection(session, license, actor=actor)
    licenses.extend_term(session, license, actor=actor, days=30)
    licenses.reveal_key(session, sealer, license, actor=actor)
    licenses.revoke(session, license, reason="refund", actor=actor, four_eyes=False)
    server_keys.ensure_active_key(session, sealer, actor=actor)
    server_keys.rotate(session, sealer, actor=actor)
    reload(session)

    events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [event.action for event in events] == [
        "product.added",
        "edition.added",
        "release.added",
        "customer.added",
        "license.issued",
        "license.suspended",
        "license.reinstated",
        "license.protection_renewed",
        "license.term_extended",
        "license.key_revealed",
        "license.revoked",
        "server_key.created",
        "server_key.rotated",
    ]
    assert {event.actor for event in events} == {actor}
    assert audit.verify(session).intact
