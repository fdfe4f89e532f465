"""``licensing keys rotate-master``: every sealed secret re-sealed under the new master key.

The servers of a rotation run with the new key as ``LICENSING_MASTER_KEY`` and the old
as ``LICENSING_MASTER_KEY_PREVIOUS``; each app here is built that way against the test's
own connection, so it sees what the others sealed and committed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing import create_app
from licensing.cli import keys as keys_cli
from licensing.crypto.sealing import (
    HASH_KEYS_TABLE,
    HASH_PURPOSES,
    USAGE_HASH_PURPOSES,
    SealBroken,
    Sealer,
    hash_key_row_id,
    master_key_id,
)
from licensing.extensions import db
from licensing.models import HashKey, License, ServerKey, UsageObservation
from licensing.runtime import EXTENSION_KEY
from licensing.services import licenses, master_key, partner_checks, server_keys
from licensing.services.licenses import TABLE as LICENSE_TABLE
from tests import factories
from tests.conftest import MASTER_KEY
from tests.functional.conftest import MakeLicensed
from tests.unit.crypto.test_sealing import legacy_seal
from tests.usage_rows import make_seat

OLD = base64.b64decode(MASTER_KEY)
NEW_TEXT = base64.b64encode(bytes(range(100, 132))).decode("ascii")
NEW = base64.b64decode(NEW_TEXT)
IP = b"192.0.2.10"

MakeApp = Callable[..., Flask]


@pytest.fixture
def make_app(app: Flask, app_config: dict[str, Any]) -> MakeApp:
    def make(current: str, previous: str | None = None) -> Flask:
        config = {**app_config, "LICENSING_MASTER_KEY": current}
        if previous is not None:
            config["LICENSING_MASTER_KEY_PREVIOUS"] = previous
        return create_app(config)

    return make


@pytest.fixture
def sealed_data(
    session: Session, sealer: Sealer, server_key: str, make_licensed: MakeLicensed
) -> dict[str, Any]:
    """A signing key, three licenses (one in the envelope without a key id) and a partner
    key, all under the old master key."""
    issued = [make_licensed() for _ in range(3)]
    # One sealed as before envelopes named their master key.
    first = issued[0].license
    normalised = licenses.reveal_key(session, sealer, first, actor="test:pytest").normalised
    first.sealed_key = legacy_seal(OLD, normalised.encode(), table=LICENSE_TABLE, row_id=first.id)
    partner_key = factories.make_partner_key(session, sealer)
    # Usage from before monthly keys, hashed under the fixed keys: they are kept for it.
    fixed_key_row(session, sealer, issued[1].license.id)
    session.commit()
    return {
        "keys": {licensed.license.id: licensed.key for licensed in issued},
        "partner_token": partner_key.token,
        "ip_hash": sealer.keyed_hash("ip", IP),
    }


def fixed_key_row(session: Session, sealer: Sealer, license_id: Any) -> UsageObservation:
    """A usage row as check-ins wrote it before migration 0013: under the fixed keys."""
    seat = make_seat(session, license_id, "mx1.example.net")
    at = datetime(2026, 9, 14, 8, 0, tzinfo=UTC)
    row = UsageObservation(
        activation_id=seat.id,
        license_id=license_id,
        day=at.date(),
        observation_key=sealer.keyed_hash("observation", IP),
        ip_hash=sealer.keyed_hash("ip", IP),
        server_name_hash=sealer.keyed_hash("server-name", b"mx1.example.net"),
        product_version="2.0.0",
        first_seen=at,
        last_seen=at,
    )
    session.add(row)
    session.flush()
    return row


def rotate_master(app: Flask, *args: str, **options: Any) -> Result:
    """``licensing keys rotate-master ARGS`` run by ``app`` (the runner alone would use the
    test's app, whose context is pushed for the whole test)."""
    with app.app_context():
        return app.test_cli_runner().invoke(keys_cli.keys, ["rotate-master", *args], **options)


def rotated(app: Flask, *args: str) -> Any:
    result = rotate_master(app, *args, "--json")
    assert result.exit_code == 0, f"{result.exception!r}\n{result.output}"
    return json.loads(result.stdout)


def sealer_of(app: Flask) -> Sealer:
    sealer: Sealer = app.extensions[EXTENSION_KEY].sealer
    return sealer


def sealed_rows(session: Session) -> Iterator[tuple[str, object, bytes]]:
    for kid, sealed in session.execute(select(ServerKey.kid, ServerKey.sealed_private_key)):
        yield server_keys.TABLE, kid, sealed
    for license_id, sealed in session.execute(select(License.id, License.sealed_key)):
        yield LICENSE_TABLE, license_id, sealed
    for purpose, period, sealed in session.execute(
        select(HashKey.purpose, HashKey.period, HashKey.sealed_key)
    ):
        yield HASH_KEYS_TABLE, hash_key_row_id(purpose, period), sealed


def readiness(app: Flask) -> Any:
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.json
    return response.json


def test_a_rotation_reseals_everything_and_the_old_key_opens_nothing(
    make_app: MakeApp, session: Session, sealed_data: dict[str, Any]
) -> None:
    rotating = make_app(NEW_TEXT, previous=MASTER_KEY)

    done = rotated(rotating, "--batch-size", "2")

    assert done["master_key_id"] == master_key_id(NEW)
    assert done["previous_key_id"] == master_key_id(OLD)
    assert done["resealed"] == {"hash_keys": len(HASH_PURPOSES), "server_keys": 1, "licenses": 3}
    assert done["remaining"] == 0
    assert readiness(rotating)["master_key"] == {
        "id": master_key_id(NEW),
        "previous_id": master_key_id(OLD),
        "sealed_under_other_keys": 0,
    }
    rows = list(sealed_rows(session))
    assert len(rows) == len(HASH_PURPOSES) + 1 + 3  # the fixed hash keys, 1 + 3
    for table, row_id, sealed in rows:
        with pytest.raises(SealBroken, match="sealed under master key"):
            Sealer(OLD).open(sealed, table=table, row_id=row_id)

    # The previous key removed: the new one alone opens every secret, hashes unchanged.
    after = make_app(NEW_TEXT)
    assert readiness(after)["master_key"] == {"id": master_key_id(NEW)}
    with after.app_context():
        new_sealer = sealer_of(after)
        for license_id, key in sealed_data["keys"].items():
            found = session.get(License, license_id)
            assert found is not None
            revealed = licenses.reveal_key(db.session(), new_sealer, found, actor="test:pytest")
            assert revealed.display == key
        assert new_sealer.keyed_hash("ip", IP) == sealed_data["ip_hash"]
        principal = partner_checks.authenticate(
            db.session(),
            new_sealer,
            sealed_data["partner_token"],
            client_ip="192.0.2.1",
            now=datetime.now(UTC),
        )
        assert principal is not None
    # And the old key alone is no longer ready.
    old_only = make_app(MASTER_KEY).test_client().get("/readyz")
    assert old_only.status_code == 503


def test_a_rotation_reseals_the_monthly_keys_and_their_hashes_still_match(
    make_app: MakeApp, session: Session, sealer: Sealer, sealed_data: dict[str, Any]
) -> None:
    months = ("2026-10", "2026-11")
    before = {m: sealer.period_keyed_hash("ip", m, IP) for m in months}
    for purpose in USAGE_HASH_PURPOSES:
        sealer.period_keyed_hash(purpose, months[1], b"a value")
    session.commit()
    stored = {(k.purpose, k.period): k.sealed_key for k in session.scalars(select(HashKey))}
    assert {("ip", "2026-10"), ("ip", "2026-11"), ("server-name", "2026-11")} <= set(stored)

    done = rotated(make_app(NEW_TEXT, previous=MASTER_KEY))

    assert done["resealed"] == {
        "hash_keys": len(HASH_PURPOSES) + 4,
        "server_keys": 1,
        "licenses": 3,
    }
    assert done["remaining"] == 0
    session.expire_all()
    for key in session.scalars(select(HashKey).where(HashKey.period != "")):
        assert key.sealed_key != stored[(key.purpose, key.period)]
        row_id = hash_key_row_id(key.purpose, key.period)
        with pytest.raises(SealBroken, match="sealed under master key"):
            Sealer(OLD).open(key.sealed_key, table=HASH_KEYS_TABLE, row_id=row_id)
    after = make_app(NEW_TEXT)
    with after.app_context():
        assert {m: sealer_of(after).period_keyed_hash("ip", m, IP) for m in months} == before
    assert readiness(after)["master_key"] == {"id": master_key_id(NEW)}


def test_an_interrupted_rotation_leaves_both_keys_working_and_a_rerun_finishes(
    make_app: MakeApp,
    session: Session,
    sealed_data: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rotating = make_app(NEW_TEXT, previous=MASTER_KEY)
    real_rotate = master_key.rotate

    def power_cut(*args: Any, **kwargs: Any) -> Iterator[master_key.Batch]:
        for batch in real_rotate(*args, **kwargs):
            yield batch  # committed by the command before the generator resumes
            if batch.table == LICENSE_TABLE:
                raise RuntimeError("power cut")

    monkeypatch.setattr(keys_cli.master_key, "rotate", power_cut)
    result = rotate_master(rotating, "--batch-size", "1")
    assert isinstance(result.exception, RuntimeError), result.output

    new_sealer = sealer_of(rotating)
    headers = [new_sealer.is_current(sealed) for _, _, sealed in sealed_rows(session)]
    assert headers.count(True) == len(HASH_PURPOSES) + 1 + 1  # hash keys, signing key, license
    assert headers.count(False) == 2
    # Mid-rotation the servers still open everything and say how much is left.
    assert readiness(rotating)["master_key"]["sealed_under_other_keys"] == 2
    for table, row_id, sealed in sealed_rows(session):
        new_sealer.open(sealed, table=table, row_id=row_id)

    monkeypatch.setattr(keys_cli.master_key, "rotate", real_rotate)
    done = rotated(rotating)

    assert done["resealed"] == {"licenses": 2}
    assert done["remaining"] == 0
    assert all(new_sealer.is_current(sealed) for _, _, sealed in sealed_rows(session))
    assert readiness(make_app(NEW_TEXT))["master_key"] == {"id": master_key_id(NEW)}


def test_rotate_master_without_the_old_key_is_refused(
    make_app: MakeApp, sealed_data: dict[str, Any]
) -> None:
    rotating = make_app(NEW_TEXT)  # the new key only: it opens nothing yet

    result = rotate_master(rotating)
    assert result.exit_code != 0
    assert "LICENSING_MASTER_KEY_PREVIOUS" in str(result.exception)


def test_rotate_master_reads_the_old_key_from_standard_input(
    make_app: MakeApp, session: Session, sealed_data: dict[str, Any]
) -> None:
    rotating = make_app(NEW_TEXT)

    result = rotate_master(rotating, "--previous-key-file", "-", input=MASTER_KEY + "\n")

    assert result.exit_code == 0, result.output
    assert all(sealer_of(rotating).is_current(s) for _, _, s in sealed_rows(session))


def test_rotate_master_with_the_same_key_as_previous_is_refused(
    make_app: MakeApp, sealed_data: dict[str, Any]
) -> None:
    result = rotate_master(make_app(MASTER_KEY, previous=MASTER_KEY))

    assert result.exit_code != 0
    assert "the previous master key is the current one" in str(result.exception)


def partner_key_valid(app: Flask, token: str) -> bool:
    with app.app_context():
        principal = partner_checks.authenticate(
            db.session(), sealer_of(app), token, client_ip="192.0.2.1", now=datetime.now(UTC)
        )
    return principal is not None


@pytest.mark.parametrize(
    ("current", "previous"),
    [
        pytest.param(MASTER_KEY, base64.b64encode(bytes(range(7, 39))).decode(), id="wrong"),
        pytest.param(MASTER_KEY, NEW_TEXT, id="swapped"),
    ],
)
def test_a_previous_key_that_sealed_nothing_is_refused_and_nothing_is_written(
    make_app: MakeApp,
    session: Session,
    sealed_data: dict[str, Any],
    current: str,
    previous: str,
) -> None:
    before = sorted(sealed_rows(session), key=repr)

    result = rotate_master(make_app(current, previous=previous), "--json")

    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, master_key.RotationRefused), result.output
    detail = result.exception.detail
    assert master_key_id(base64.b64decode(current)) in detail
    assert master_key_id(base64.b64decode(previous)) in detail
    assert "nothing was re-sealed" in detail.lower()
    assert sorted(sealed_rows(session), key=repr) == before
    # Started again with the real key alone, the partner's key still authenticates.
    assert partner_key_valid(make_app(MASTER_KEY), sealed_data["partner_token"])


def interrupted_rotation(make_app: MakeApp) -> int:
    """What a rotation killed midway leaves: the keyed-hash keys, the signing key and
    one license under the new key (the one a query without an order finds first), the
    other licenses under the old one. Returns how many are left."""
    rotating = make_app(NEW_TEXT, previous=MASTER_KEY)
    with rotating.app_context():
        sealer, session = sealer_of(rotating), db.session()
        batches = master_key.rotate(session, sealer)
        assert next(batches).table == HASH_KEYS_TABLE
        batches.close()
        for server_key in session.scalars(select(ServerKey)):
            server_key.sealed_private_key = sealer.reseal(
                server_key.sealed_private_key, table=server_keys.TABLE, row_id=server_key.kid
            )
        unordered = session.execute(select(License.id, License.sealed_key).limit(1)).one()
        first = session.get(License, unordered.id)
        assert first is not None
        first.sealed_key = sealer.reseal(first.sealed_key, table=LICENSE_TABLE, row_id=first.id)
        session.commit()
        return session.scalar(select(func.count()).select_from(License)) - 1


def test_readiness_is_refused_with_the_new_key_alone_while_values_are_under_the_old(
    make_app: MakeApp, session: Session, sealed_data: dict[str, Any]
) -> None:
    left = interrupted_rotation(make_app)

    response = make_app(NEW_TEXT).test_client().get("/readyz")

    assert response.status_code == 503, response.json
    assert response.json is not None
    detail = response.json["detail"]
    assert f"does not open the sealed data: {left} sealed values" in detail
    assert master_key_id(OLD) in detail or master_key.LEGACY in detail
    # With the old key as the previous one the same host is ready, and says what is left.
    assert (
        readiness(make_app(NEW_TEXT, previous=MASTER_KEY))["master_key"]["sealed_under_other_keys"]
        == left
    )


def test_serve_refuses_to_start_with_the_new_key_alone_while_values_are_under_the_old(
    make_app: MakeApp,
    session: Session,
    sealed_data: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from licensing.cli import cli, serve

    left = interrupted_rotation(make_app)
    started: list[list[str]] = []
    monkeypatch.setattr(serve.os, "execve", lambda _path, argv, _env: started.append(argv))
    new_only = make_app(NEW_TEXT)

    with new_only.app_context():
        result = new_only.test_cli_runner().invoke(cli, ["serve", "--port", "8123"])

    assert result.exit_code != 0
    assert f"does not open {left} sealed values" in str(result.exception)
    assert started == []


def test_a_server_started_with_the_keys_swapped_keeps_every_keyed_hash(
    make_app: MakeApp, sealed_data: dict[str, Any]
) -> None:
    # The data is under the current key; the "previous" one sealed nothing.
    swapped = make_app(MASTER_KEY, previous=NEW_TEXT)

    assert partner_key_valid(swapped, sealed_data["partner_token"])
    with swapped.app_context():
        assert sealer_of(swapped).keyed_hash("ip", IP) == sealed_data["ip_hash"]


def test_with_no_row_left_under_the_fixed_usage_keys_a_rotation_does_not_store_them(
    make_app: MakeApp, session: Session, sealer: Sealer, sealed_data: dict[str, Any]
) -> None:
    for row in session.scalars(select(UsageObservation)):
        session.delete(row)
    session.commit()

    done = rotated(make_app(NEW_TEXT, previous=MASTER_KEY))

    fixed = set(session.scalars(select(HashKey.purpose).where(HashKey.period == "")))
    assert fixed == set(HASH_PURPOSES) - set(USAGE_HASH_PURPOSES)
    assert done["resealed"]["hash_keys"] == len(fixed)
    after = make_app(NEW_TEXT)
    with after.app_context():
        # Derived from the new key now: the hashes made under the old one match nothing.
        assert sealer_of(after).keyed_hash("ip", IP) != sealed_data["ip_hash"]
        assert sealer_of(after).keyed_hash("lease-id", IP) == sealer.keyed_hash("lease-id", IP)
