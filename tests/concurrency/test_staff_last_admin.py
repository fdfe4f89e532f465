"""Two admins taking each other's admin role at once leave one admin (PostgreSQL).

Each change runs on a connection of its own and the threads start together: without the
lock on the active admins' rows both would count two admins, both changes would pass,
and nobody could manage staff accounts from the console any more.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import flask_migrate
import pytest
from sqlalchemy import Engine, create_engine, func, select, update
from sqlalchemy.orm import Session

from licensing import create_app
from licensing.database import engine_options
from licensing.errors import InvalidTransition
from licensing.extensions import db
from licensing.models import StaffUser
from licensing.services import staff as accounts
from tests.databases import TEST_DATABASE_ENV, fresh_postgresql_database

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        not os.environ.get(TEST_DATABASE_ENV, "").strip(),
        reason=f"{TEST_DATABASE_ENV} is not set: no PostgreSQL server to race on",
    ),
]


@pytest.fixture(scope="module")
def engine(app_config: dict[str, Any]) -> Iterator[Engine]:
    """A migrated database of its own."""
    with fresh_postgresql_database(os.environ[TEST_DATABASE_ENV].strip(), label="admins_") as url:
        app = create_app({**app_config, "LICENSING_DATABASE_URL": url})
        with app.app_context():
            flask_migrate.upgrade()
            db.session.remove()
            db.engine.dispose()
        racing = create_engine(url, **engine_options(url))
        try:
            yield racing
        finally:
            racing.dispose()


def _admins(engine: Engine, change: str) -> tuple[StaffUser, StaffUser]:
    """Two admins, the only active ones (an earlier test's admin is made a viewer)."""
    with Session(engine, expire_on_commit=False) as session:
        session.execute(update(StaffUser).values(role="viewer"))
        made = tuple(
            accounts.add_staff(
                session,
                email=f"{change}-{n}@example.org",
                display_name=f"Admin {n}",
                role="admin",
                password="a long enough passphrase",
                actor="test:race",
            )
            for n in (1, 2)
        )
        session.commit()
    return made  # type: ignore[return-value]


CHANGES: dict[str, Callable[[Session, StaffUser, str], object]] = {
    "demote": lambda session, staff, actor: accounts.set_role(
        session, staff, "viewer", actor=actor
    ),
    "disable": lambda session, staff, actor: accounts.disable_staff(session, staff, actor=actor),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_two_admins_demoting_each_other_at_once_leave_one(engine: Engine, change: str) -> None:
    first, second = _admins(engine, change)
    barrier = threading.Barrier(2)
    refused: list[InvalidTransition] = []
    errors: list[BaseException] = []

    def act(target: StaffUser, by: StaffUser) -> None:
        try:
            with Session(engine) as session:
                staff = session.get_one(StaffUser, target.id)
                barrier.wait(timeout=30)
                try:
                    CHANGES[change](session, staff, f"staff:{by.id}")
                except InvalidTransition as exc:
                    session.rollback()
                    refused.append(exc)
                else:
                    session.commit()
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [
        threading.Thread(target=act, args=(second, first)),
        threading.Thread(target=act, args=(first, second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert len(refused) == 1 and "last active admin" in str(refused[0])
    with Session(engine) as session:
        active_admins = session.scalar(
            select(func.count())
            .select_from(StaffUser)
            .where(
                StaffUser.id.in_([first.id, second.id]),
                StaffUser.role == "admin",
                StaffUser.disabled_at.is_(None),
            )
        )
    assert active_admins == 1
