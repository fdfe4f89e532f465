"""Two staff acting on one case at once: the action locks the case row, so two
``case escalate`` calls take one step, not two (``SELECT ... FOR UPDATE`` on PostgreSQL).

Real parallel connections need committed rows, so this runs on a database of its own,
migrated here and dropped after (PostgreSQL only; on SQLite one writer at a time).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.errors import InvalidTransition
from licensing.extensions import db
from licensing.misuse.findings import Finding, Rule, Severity
from licensing.misuse.ladder import LadderPeriods
from licensing.models.misuse import MisuseCase, MisuseCaseEvent
from licensing.services import misuse_case_actions as actions
from licensing.services.misuse_case_queries import find_case
from licensing.services.misuse_cases import apply_findings
from tests.concurrency.committed import committed_postgresql_app
from tests.databases import TEST_DATABASE_ENV
from tests.factories import make_license

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        not os.environ.get(TEST_DATABASE_ENV, "").strip(),
        reason=f"{TEST_DATABASE_ENV} is not set: no PostgreSQL server for parallel connections",
    ),
]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PERIODS = LadderPeriods(14, 14)


@pytest.fixture(scope="module")
def committed_app(
    app_config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """An application on a fresh PostgreSQL database whose writes are really committed."""
    instance = tmp_path_factory.mktemp("case-lock")
    with committed_postgresql_app(app_config, instance, label="case_lock_") as app:
        yield app


def _confirmed_case(app: Flask) -> uuid.UUID:
    with app.app_context():
        session = db.session()
        sealer = app.extensions["licensing"].sealer
        lic = make_license(session, sealer).license
        finding = Finding(
            rule=Rule.SERVER_SPREAD,
            severity=Severity.MEDIUM,
            license_id=str(lic.id),  # type: ignore[arg-type]  # ids are the UUID's text
            first_seen=NOW - timedelta(days=20),
            last_seen=NOW,
            summary="5 distinct servers",
            evidence={"distinct_servers": 5, "servers": [{"server": f"s{i}"} for i in range(5)]},
        )
        apply_findings(
            session, license_id=lic.id, rules=[Rule.SERVER_SPREAD], findings=[finding], now=NOW
        )
        case = session.scalars(select(MisuseCase).where(MisuseCase.license_id == lic.id)).one()
        actions.confirm(session, case, reason="5 servers", actor="test:staff", now=NOW)
        session.commit()
        return case.id


def test_two_escalations_at_once_take_one_step(committed_app: Flask) -> None:
    case_id = _confirmed_case(committed_app)
    first_holds = threading.Event()
    outcomes: dict[str, Any] = {}

    def staff(name: str, *, first: bool) -> None:
        with committed_app.app_context(), Session(db.engine) as session:
            if not first:
                first_holds.wait(5)
            try:
                case = find_case(session, str(case_id), for_update=True)
                if first:
                    first_holds.set()
                    # Hold the lock a while: the other staff member loads the case now.
                    threading.Event().wait(0.5)
                actions.escalate(
                    session, case, actor=f"test:{name}", now=NOW, periods=PERIODS, may_suspend=True
                )
                session.commit()
                outcomes[name] = case.escalation_step
            except InvalidTransition as error:
                session.rollback()
                outcomes[name] = error

    threads = [
        threading.Thread(target=staff, args=("alice",), kwargs={"first": True}),
        threading.Thread(target=staff, args=("bob",), kwargs={"first": False}),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert outcomes["alice"] == "notify_customer"
    # Bob waited for Alice's commit and then saw the step taken: the next is not due.
    assert isinstance(outcomes["bob"], InvalidTransition)
    assert "final_notice is not due" in str(outcomes["bob"])
    with committed_app.app_context(), Session(db.engine) as session:
        taken = session.scalar(
            select(func.count())
            .select_from(MisuseCaseEvent)
            .where(MisuseCaseEvent.case_id == case_id, MisuseCaseEvent.kind == "escalated")
        )
    assert taken == 1
