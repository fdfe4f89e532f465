"""``license revoke`` under four eyes: nobody revokes alone, not even from a shell."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import InvalidTransition
from licensing.models import LicenseStatus
from tests.factories import latest_event, make_license
from tests.functional.cli.invoke import Licensing


def test_revoke_is_refused_under_four_eyes_and_nothing_changes(
    four_eyes_app: Flask, session: Session, sealer: Sealer
) -> None:
    issued = make_license(session, sealer)
    session.commit()
    before = latest_event(session).seq
    licensing = Licensing(four_eyes_app.test_cli_runner())

    with four_eyes_app.app_context():  # the command runs in the app it finds pushed
        refused = licensing.fails(
            "license", "revoke", issued.key.display, "--reason", "refunded", "--yes"
        )

    assert isinstance(refused, InvalidTransition)
    assert "LICENSING_FOUR_EYES" in str(refused) and "second admin" in str(refused)
    assert f"/staff/licenses/{issued.license.id}" in str(refused)
    assert "\n" not in str(refused)
    session.expire_all()
    assert issued.license.status == LicenseStatus.ACTIVE
    assert latest_event(session).seq == before  # nothing audited


def test_revoke_is_refused_under_four_eyes_before_asking(
    four_eyes_app: Flask, session: Session, sealer: Sealer
) -> None:
    issued = make_license(session, sealer)
    session.commit()
    with four_eyes_app.app_context():
        result = Licensing(four_eyes_app.test_cli_runner()).run(
            "license", "revoke", str(issued.license.id), "--reason", "refunded", input="y\n"
        )
    assert isinstance(result.exception, InvalidTransition)
    assert "Revoke license" not in result.output
    session.expire_all()
    assert issued.license.status == LicenseStatus.ACTIVE


def test_without_four_eyes_revoke_works_and_names_no_approval(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    issued = make_license(session, sealer)
    session.commit()
    revoked = licensing.json(
        "license", "revoke", issued.key.display, "--reason", "refunded", "--yes"
    )
    assert revoked["status"] == "revoked"
    event = latest_event(session)
    assert event.action == "license.revoked"
    assert event.data == {"from": "active", "to": "revoked", "reason": "refunded"}
