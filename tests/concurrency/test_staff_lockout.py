"""Parallel wrong passwords for one staff account are all counted (PostgreSQL).

Each guess runs on a connection of its own, in its own transaction, and the threads
start together: without the row lock taken by the sign-in check they would all read the
same count and write the same count plus one, and an attacker guessing in parallel
would get many guesses per counted failure.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import flask_migrate
import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from licensing import create_app
from licensing.database import engine_options
from licensing.extensions import db
from licensing.models import StaffUser
from licensing.services import staff as accounts
from licensing.services.staff_sign_in import LockoutPolicy, SignInOutcome, authenticate
from tests.databases import TEST_DATABASE_ENV, fresh_postgresql_database

GUESSES = 6
EMAIL = "target@example.org"

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        not os.environ.get(TEST_DATABASE_ENV, "").strip(),
        reason=f"{TEST_DATABASE_ENV} is not set: no PostgreSQL server to race on",
    ),
]


@pytest.fixture(scope="module")
def engine(app_config: dict[str, Any]) -> Iterator[Engine]:
    """A migrated database of its own with one committed account."""
    with fresh_postgresql_database(os.environ[TEST_DATABASE_ENV].strip(), label="staff_") as url:
        app = create_app({**app_config, "LICENSING_DATABASE_URL": url})
        with app.app_context():
            flask_migrate.upgrade()
            accounts.add_staff(
                db.session(),
                email=EMAIL,
                display_name="Target",
                role="admin",
                password="the one right passphrase",
                actor="test:race",
            )
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
        racing = create_engine(url, **engine_options(url))
        try:
            yield racing
        finally:
            racing.dispose()


def test_every_parallel_failure_counts_towards_the_lockout(engine: Engine) -> None:
    barrier = threading.Barrier(GUESSES)
    outcomes: list[SignInOutcome] = []
    errors: list[BaseException] = []

    def guess(number: int) -> None:
        try:
            with Session(engine) as session:
                barrier.wait(timeout=30)
                result = authenticate(
                    session, EMAIL, f"wrong guess {number}", policy=LockoutPolicy(failures=100)
                )
                session.commit()
                outcomes.append(result.outcome)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(GUESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert outcomes == [SignInOutcome.REFUSED] * GUESSES
    with Session(engine) as session:
        staff = accounts.staff_by_email(session, EMAIL)
        assert isinstance(staff, StaffUser)
        assert staff.failed_logins == GUESSES
