"""Invalid signatures are counted per known key id on the authentication path.

The tally is the process's (the session's application): each test first writes what
earlier tests left into its own rolled-back transaction, then counts from zero.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.models import SignatureFailure
from licensing.runtime import EXTENSION_KEY
from licensing.storage.signature_failures import SignatureFailureTally, bucket_start
from tests.functional.conftest import MakeLicensed
from tests.functional.instance_client import Answer, Instance
from tests.signing import json_body, sign

UNKNOWN_KEY_ID = "AAAAAAAAAAAAAAAAAAAAAA"
WRONG_SECRET = b"\x00" * 32


@pytest.fixture
def tally(app: Flask, session: Session) -> SignatureFailureTally:
    counted: SignatureFailureTally = app.extensions[EXTENSION_KEY].signature_failures
    counted.flush(session.connection())  # what other tests left, rolled back with this one
    return counted


def check_in(instance: Instance, **options: object) -> Answer:
    return instance.send("POST", "/v1/instance/check-ins", instance.check_in_body(), **options)


def stored(session: Session, key_id: str) -> list[tuple[datetime, int]]:
    rows = session.execute(
        select(SignatureFailure.bucket_start, SignatureFailure.count)
        .where(SignatureFailure.key_id == key_id)
        .order_by(SignatureFailure.bucket_start)
    ).all()
    return [(bucket, count) for bucket, count in rows]


def test_invalid_signatures_of_a_known_key_are_counted_and_flushed(
    instance: Instance, tally: SignatureFailureTally, session: Session, frozen_now: int
) -> None:
    key_id = instance.credentials.key_id
    bucket = bucket_start(datetime.fromtimestamp(frozen_now, UTC))

    for _ in range(3):
        assert check_in(instance, secret=WRONG_SECRET).code == "SIGNATURE_INVALID"

    assert tally.pending() == {(key_id, bucket): 3}
    assert stored(session, key_id) == []  # nothing written by the requests themselves
    assert tally.flush(session.connection()) == 1
    assert stored(session, key_id) == [(bucket, 3)]

    check_in(instance, secret=WRONG_SECRET)
    tally.flush(session.connection())
    assert stored(session, key_id) == [(bucket, 4)]


def test_an_activation_and_a_deactivation_count_too(
    instance: Instance, tally: SignatureFailureTally, frozen_now: int
) -> None:
    bucket = bucket_start(datetime.fromtimestamp(frozen_now, UTC))
    activation = instance.activate(sign_options={"secret": WRONG_SECRET})
    deactivation = instance.deactivate("0f6d3c1e-8a52-4b7e-9d0c-2e4f6a8b1c3d", secret=WRONG_SECRET)

    assert (activation.code, deactivation.code) == ("SIGNATURE_INVALID", "SIGNATURE_INVALID")
    assert tally.pending() == {(instance.credentials.key_id, bucket): 2}


def test_another_licenses_secret_counts_for_the_key_id_it_names(
    instance: Instance, make_licensed: MakeLicensed, tally: SignatureFailureTally
) -> None:
    other = make_licensed()
    assert check_in(instance, secret=other.credentials.secret).code == "SIGNATURE_INVALID"
    assert [key for key, _ in tally.pending()] == [instance.credentials.key_id]


def test_an_unknown_key_id_is_not_counted(instance: Instance, tally: SignatureFailureTally) -> None:
    assert check_in(instance, key_id=UNKNOWN_KEY_ID).code == "UNKNOWN_KEY"
    assert tally.pending() == {}


def test_a_good_signature_and_other_rejections_are_not_counted(
    instance: Instance, tally: SignatureFailureTally, session: Session
) -> None:
    instance.activate()
    assert check_in(instance).code == "VALID"
    stale = check_in(instance, created=int(datetime.now(UTC).timestamp()) - 3600)
    request = sign(instance.credentials, "POST", "/v1/instance/check-ins", b"{}")
    mismatch = instance.deliver(request, body=json_body(instance.check_in_body()))

    assert (stale.code, mismatch.code) == ("SIGNATURE_STALE", "DIGEST_MISMATCH")
    assert tally.pending() == {}
    assert tally.flush(session.connection()) == 0
    assert stored(session, instance.credentials.key_id) == []
