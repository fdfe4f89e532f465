"""A restored backup does not bring an erased customer back: the ledger re-applies the
erasure, and a second replay changes nothing."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, insert, select, update

from licensing.extensions import db
from licensing.models import Activation, AuditEvent, Customer, PrivacyRequestKind, UsageObservation
from licensing.runtime import EXTENSION_KEY
from licensing.services import erasure, erasure_run, privacy_requests
from tests.erasure_seed import ACTOR, NOW, erasure_request, seed_customer


def _rows(model: Any, license_ids: list[Any]) -> list[dict[str, Any]]:
    table = model.__table__
    query = select(table).where(table.c.license_id.in_(license_ids))
    return [dict(row._mapping) for row in db.session.execute(query)]


def test_replaying_the_ledger_erases_a_restored_customer_again(
    committed_app: Flask, tmp_path: Path
) -> None:
    runtime = committed_app.extensions[EXTENSION_KEY]
    ledger = runtime.settings.erasure_ledger
    with committed_app.app_context():
        session = db.session()
        subject = seed_customer(session, runtime.sealer, tag="back")
        other = seed_customer(session, runtime.sealer, tag="keep")
        request_id = erasure_request(session, subject.customer).id
        customer_id, other_id = subject.customer.id, other.customer.id
        license_ids = [lic.id for lic in subject.licenses]
        session.commit()
        sqlite = db.engine.dialect.name == "sqlite"
        backup = tmp_path / "backup.sqlite3"
        if sqlite:  # the backup: a consistent copy of the database file
            source = sqlite3.connect(str(db.engine.url.database))
            with sqlite3.connect(str(backup)) as target:
                source.backup(target)
            source.close()
        else:  # what a restore would bring back: the customer's original rows
            original = {
                "customer": dict(
                    session.execute(select(Customer.__table__).where(Customer.id == customer_id))
                    .one()
                    ._mapping
                ),
                "activations": _rows(Activation, license_ids),
                "usage": _rows(UsageObservation, license_ids),
            }
        session.commit()

        request = privacy_requests.open_request(session, request_id, {PrivacyRequestKind.ERASURE})
        erasure_run.carry_out(
            session,
            request,
            sealer=runtime.sealer,
            ledger=ledger,
            scrub_engine=None,
            actor=ACTOR,
            now=NOW,
        )
        session.close()
        assert ledger.read_text().count(str(customer_id)) == 1

        # The restore.
        if sqlite:
            db.engine.dispose()
            main = Path(str(db.engine.url.database))
            for extra in (Path(f"{main}-wal"), Path(f"{main}-shm")):
                extra.unlink(missing_ok=True)
            shutil.copyfile(backup, main)
        else:
            customer_row = original["customer"]
            session.execute(
                update(Customer).where(Customer.id == customer_id).values(**customer_row)
            )
            session.execute(insert(Activation), original["activations"])
            session.execute(insert(UsageObservation), original["usage"])
            session.commit()
        back = session.get(Customer, customer_id)
        assert back is not None and back.anonymised_at is None and back.email == subject.email

        first, _ = erasure_run.replay(
            session,
            sealer=runtime.sealer,
            ledger=ledger,
            dry_run=False,
            scrub_engine=db.engine,
            actor=ACTOR,
            now=NOW,
        )
        assert [p.customer_id for p in first.replayed] == [customer_id]
        assert first.replayed[0].counts["usage_observations"] == 4
        again = session.get(Customer, customer_id)
        assert again is not None and again.anonymised_at is not None
        assert again.email != subject.email
        assert (
            session.scalar(
                select(func.count())
                .select_from(UsageObservation)
                .where(UsageObservation.license_id.in_(license_ids))
            )
            == 0
        )
        replayed_events = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == erasure.REPLAYED_ACTION)
        )
        assert replayed_events == 1
        kept = session.get(Customer, other_id)
        assert kept is not None and kept.email == other.email
        session.commit()

        second, scrub = erasure_run.replay(
            session,
            sealer=runtime.sealer,
            ledger=ledger,
            dry_run=False,
            scrub_engine=db.engine,
            actor=ACTOR,
            now=NOW,
        )
        assert second.replayed == [] and second.already_erased == 1 and scrub is None
        assert ledger.read_text().count("\n") == 1  # a replay writes no new line
