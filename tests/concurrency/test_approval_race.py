"""Two admins approving one revocation request at once: the request row is locked while it
is decided (``SELECT ... FOR UPDATE``), so the license is revoked once and the second admin
is told the request was already approved.

Real parallel connections need committed rows, so this runs on a database of its own,
migrated here and dropped after (PostgreSQL only; on SQLite one writer at a time).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.errors import Conflict
from licensing.extensions import db
from licensing.models import ApprovalRequest, AuditEvent, License, LicenseStatus, StaffUser
from licensing.services import approvals
from licensing.services import staff as accounts
from licensing.timeutil import utcnow
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


@pytest.fixture(scope="module")
def committed_app(
    app_config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """An application on a fresh PostgreSQL database whose writes are really committed."""
    instance = tmp_path_factory.mktemp("approval-race")
    with committed_postgresql_app(app_config, instance, label="approval_race_") as app:
        yield app


def _admin(session: Session, name: str) -> StaffUser:
    return accounts.add_staff(
        session,
        email=f"{name}.{uuid.uuid4().hex[:6]}@example.org",
        display_name=name.title(),
        role="admin",
        password="a long enough passphrase",
        actor="test:pytest",
    )


def _waiting_request(app: Flask) -> tuple[uuid.UUID, uuid.UUID, dict[str, uuid.UUID]]:
    """A committed request by one admin, and two other admins to decide it."""
    with app.app_context():
        session = db.session()
        license = make_license(session, app.extensions["licensing"].sealer).license
        asker = _admin(session, "asker")
        deciders = {name: _admin(session, name).id for name in ("alice", "bob")}
        request = approvals.request_revocation(
            session, license, reason="stolen card", requested_by=asker, now=utcnow()
        )
        session.commit()
        return request.id, license.id, deciders


def test_two_approvals_at_once_revoke_once(committed_app: Flask) -> None:
    request_id, license_id, deciders = _waiting_request(committed_app)
    first_holds = threading.Event()
    outcomes: dict[str, Any] = {}

    def admin(name: str, *, first: bool) -> None:
        with committed_app.app_context(), Session(db.engine) as session:
            approver = session.get_one(StaffUser, deciders[name])
            if not first:
                first_holds.wait(5)
            try:
                if first:
                    # Take the row lock first, and hold it while the other admin approves.
                    session.scalars(
                        select(ApprovalRequest)
                        .where(ApprovalRequest.id == request_id)
                        .with_for_update()
                    ).one()
                    first_holds.set()
                    threading.Event().wait(0.5)
                approvals.approve(session, request_id, approver=approver, note="", now=utcnow())
                session.commit()
                outcomes[name] = "approved"
            except Conflict as error:
                session.rollback()
                outcomes[name] = error

    threads = [
        threading.Thread(target=admin, args=("alice",), kwargs={"first": True}),
        threading.Thread(target=admin, args=("bob",), kwargs={"first": False}),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert outcomes["alice"] == "approved"
    # Bob waited for Alice's commit and then found the request decided.
    assert isinstance(outcomes["bob"], Conflict)
    assert "already approved" in str(outcomes["bob"])
    with committed_app.app_context(), Session(db.engine) as session:
        revocations = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "license.revoked", AuditEvent.subject_id == str(license_id))
        )
        request = session.get_one(ApprovalRequest, request_id)
        license = session.get_one(License, license_id)
    assert revocations == 1
    assert request.decided_by == deciders["alice"]
    assert license.status == LicenseStatus.REVOKED
