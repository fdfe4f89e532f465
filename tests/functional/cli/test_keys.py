"""``licensing keys``: listing and rotating the server's signing keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import ServerKey
from licensing.services import server_keys
from tests.factories import latest_event, make_edition
from tests.functional.cli.invoke import Licensing, table


def moment(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


def test_keys_list_without_keys(licensing: Licensing) -> None:
    assert licensing.ok("keys", "list").strip() == "(none)"
    assert licensing.json("keys", "list") == []


def test_keys_list_shows_the_active_key(
    licensing: Licensing, session: Session, sealer: Sealer, actor: str
) -> None:
    key = server_keys.ensure_active_key(session, sealer, actor=actor)

    (row,) = table(licensing.ok("keys", "list"))
    assert (row["kid"], row["state"], row["retired_at"], row["published_until"]) == (
        key.kid,
        "active",
        "-",
        "-",
    )
    (listed,) = licensing.json("keys", "list")
    assert listed["kid"] == key.kid
    assert (listed["state"], listed["retired_at"], listed["published_until"]) == (
        "active",
        None,
        None,
    )


def test_rotate_retires_the_old_key_and_keeps_it_published(
    licensing: Licensing, session: Session, sealer: Sealer, actor: str, client: FlaskClient
) -> None:
    make_edition(session, offline_grace_days=14)
    old = server_keys.ensure_active_key(session, sealer, actor=actor)

    new = licensing.json("keys", "rotate")

    assert new["kid"] != old.kid
    assert (new["state"], new["retired_at"], new["published_until"]) == ("active", None, None)
    event = latest_event(session)
    assert (event.action, event.subject_id) == ("server_key.rotated", new["kid"])
    assert event.actor.startswith("cli:")

    listed = {row["kid"]: row for row in licensing.json("keys", "list")}
    assert set(listed) == {old.kid, new["kid"]}
    assert listed[new["kid"]]["state"] == "active"
    retired = listed[old.kid]
    assert retired["state"] == "retired"
    assert abs(moment(retired["retired_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    # Published for the longest offline grace, so every lease the old key signed verifies.
    assert moment(retired["published_until"]) - moment(retired["retired_at"]) == timedelta(days=14)

    rows = table(licensing.ok("keys", "list"))
    assert [(row["kid"], row["state"]) for row in rows] == [
        (new["kid"], "active"),
        (old.kid, "retired"),
    ]

    assert server_keys.signing_key(session, sealer).kid == new["kid"]
    jwks = client.get("/.well-known/jwks.json").json
    assert jwks is not None
    assert {jwk["kid"] for jwk in jwks["keys"]} == {old.kid, new["kid"]}


def test_rotate_without_a_key_creates_the_first(licensing: Licensing, session: Session) -> None:
    rotated = licensing.ok("keys", "rotate")

    (key,) = session.scalars(select(ServerKey)).all()
    assert key.kid in rotated
    assert key.retired_at is None
