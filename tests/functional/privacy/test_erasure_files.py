"""After an erasure, the subject's e-mail, name and server names are nowhere in the
database files (the bytes are read), while another customer's still are."""

from __future__ import annotations

import os

import psycopg
import pytest
from flask import Flask
from sqlalchemy import update

from licensing.extensions import db
from licensing.models import PrivacyRequestKind, UsageObservation
from licensing.runtime import EXTENSION_KEY
from licensing.services import erasure, erasure_run, privacy_requests
from licensing.storage import erasure_scrub
from tests.databases import TEST_DATABASE_ENV
from tests.erasure_seed import ACTOR, NOW, erasure_request, seed_customer
from tests.functional.privacy.database_files import database_files, found_in


def test_erased_values_are_not_left_in_the_database_files(committed_app: Flask) -> None:
    runtime = committed_app.extensions[EXTENSION_KEY]
    with committed_app.app_context():
        session = db.session()
        subject = seed_customer(session, runtime.sealer, tag="gone")
        other = seed_customer(session, runtime.sealer, tag="stays")
        request_id = erasure_request(session, subject.customer).id
        session.commit()
        # As the retention job does: a raw server name cleared by an UPDATE, which leaves
        # its bytes in the page's free space.
        session.execute(
            update(UsageObservation)
            .where(UsageObservation.server_name == subject.servers[0])
            .values(server_name=None)
        )
        session.commit()
        if db.engine.dialect.name == "postgresql":
            # ANALYZE samples column values into pg_statistic.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("ANALYZE")
        personal = [subject.email, subject.name, *subject.servers]
        before = found_in(database_files(db.engine), personal)
        assert all(before.values()), f"not in the files before the erasure: {before}"

        request = privacy_requests.open_request(session, request_id, {PrivacyRequestKind.ERASURE})
        report = erasure_run.carry_out(
            session,
            request,
            sealer=runtime.sealer,
            ledger=runtime.settings.erasure_ledger,
            scrub_engine=db.engine,
            actor=ACTOR,
            now=NOW,
        )
        session.close()

        after = found_in(database_files(db.engine), [*personal, other.email, *other.servers])
    left = {value: files for value, files in after.items() if files and value in personal}
    assert left == {}, f"erased values still in the database files: {left}"
    assert report.scrub_problem is None
    assert report.scrubbed and report.scrub_seconds is not None
    # The search works: the other customer's values are found.
    assert after[other.email] and all(after[s] for s in other.servers)


@pytest.mark.postgres_only
@pytest.mark.skipif(
    not os.environ.get(TEST_DATABASE_ENV, "").strip(),
    reason=f"{TEST_DATABASE_ENV} is not set: transaction horizons are PostgreSQL's",
)
def test_a_transaction_older_than_the_erasure_is_reported_not_hidden(
    committed_app: Flask,
) -> None:
    """VACUUM FULL copies deleted rows an older snapshot may still see, even one in
    another database: the scrub must say so, and succeed once that transaction ends."""
    runtime = committed_app.extensions[EXTENSION_KEY]
    old = psycopg.connect(os.environ[TEST_DATABASE_ENV].replace("+psycopg", ""))
    try:
        with committed_app.app_context():
            session = db.session()
            subject = seed_customer(session, runtime.sealer, tag="late")
            request_id = erasure_request(session, subject.customer).id
            session.commit()
            old.execute("SELECT pg_current_xact_id()")  # an xid older than the erasure
            request = privacy_requests.open_request(
                session, request_id, {PrivacyRequestKind.ERASURE}
            )
            report = erasure.erase(session, request, actor=ACTOR, now=NOW)
            session.commit()
            session.close()
            held = erasure_scrub.scrub(db.engine, report.plan.touched_tables, wait_seconds=0.5)
            assert not held.complete and "older than the erasure" in (held.problem or "")
            assert found_in(database_files(db.engine), [subject.email])[subject.email]
            old.rollback()
            done = erasure_scrub.scrub(db.engine, report.plan.touched_tables, wait_seconds=5)
            assert done.complete, done.problem
            assert found_in(database_files(db.engine), [subject.email])[subject.email] == []
    finally:
        old.close()


@pytest.mark.postgres_only
@pytest.mark.skipif(
    not os.environ.get(TEST_DATABASE_ENV, "").strip(),
    reason=f"{TEST_DATABASE_ENV} is not set: table locks are PostgreSQL's",
)
def test_a_table_another_session_holds_is_skipped_and_named(committed_app: Flask) -> None:
    """The rewrite gives up on a table it cannot lock soon, instead of queueing
    every check-in behind it, and the report names the table."""
    with committed_app.app_context():
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        holder = psycopg.connect(url)
        try:
            holder.execute("LOCK TABLE customers IN ACCESS SHARE MODE")
            result = erasure_scrub.scrub(db.engine, ["customers", "activations"], wait_seconds=0.1)
        finally:
            holder.close()
    assert not result.complete and "customers" in (result.problem or "")
    assert "not locked" in (result.problem or "")
    assert "activations" in result.scrubbed and "customers" not in result.scrubbed
