"""Where an instance call's nonce is used up: once, by the store or the check-in's writes."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.crypto.server_keys import SigningKey
from licensing.errors import NonceReplayed
from licensing.models import ReplayNonce
from licensing.services import check_ins, instance_calls
from licensing.services.instance_calls import InstanceEnv
from licensing.services.instance_reports import CheckIn, InstanceCall
from licensing.storage.replay import NonceClaim
from tests.factories import license_state

NOW = datetime(2026, 6, 1, tzinfo=UTC)
UNUSED_KEY = SigningKey("unused-test-key", Ed25519PrivateKey.generate())
STATE = license_state()
REPORT = CheckIn(
    activation_id=uuid.uuid4(),
    fingerprint=None,
    server_name="mail.example.test",
    product_version="1.0.0",
    usage={},
    ip="192.0.2.1",
)


class CountingStore:
    """A replay store that remembers pairs and counts how often it was asked."""

    def __init__(self, *, in_database: bool) -> None:
        self.in_database = in_database
        self.seen: set[tuple[str, str]] = set()
        self.asked = 0

    def claim(self, key_id: str, nonce: str, *, now: datetime) -> NonceClaim:
        return NonceClaim(key_id, nonce, now + timedelta(minutes=10))

    def use_up(self, session: Session, claim: NonceClaim) -> bool:
        self.asked += 1
        pair = (claim.key_id, claim.nonce)
        fresh = pair not in self.seen
        self.seen.add(pair)
        return fresh


def env_with(store: CountingStore, sealer: Sealer) -> InstanceEnv:
    return InstanceEnv(
        sealer=sealer,
        issuer="licensing-test",
        # Fetched before the writes (a lease's id is stored by them); never used here.
        signing_key=lambda _: UNUSED_KEY,
        releases=lambda _session, _product: (),
        replay=store,  # type: ignore[arg-type]
    )


def call_with(nonce: str) -> InstanceCall:
    return InstanceCall(STATE, NOW, "192.0.2.1", STATE.key_id, nonce)


def test_a_nonce_is_used_up_once_however_often_it_is_asked(
    session: Session, sealer: Sealer
) -> None:
    store, nonce = CountingStore(in_database=False), secrets.token_urlsafe(16)
    call = call_with(nonce)

    check_ins.use_up_nonce(session, store, call)
    check_ins.use_up_nonce(session, store, call)  # e.g. the after-request hook

    assert store.asked == 1
    with pytest.raises(NonceReplayed):
        check_ins.use_up_nonce(session, store, call_with(nonce))


def test_a_check_in_uses_a_store_outside_the_database_before_it_writes(
    session: Session, sealer: Sealer
) -> None:
    store, nonce = CountingStore(in_database=False), secrets.token_urlsafe(16)
    store.seen.add((STATE.key_id, nonce))

    with pytest.raises(NonceReplayed):
        instance_calls.check_in(session, env_with(store, sealer), call_with(nonce), REPORT)
    assert store.asked == 1


def test_a_check_in_writes_a_database_nonce_with_its_own_writes(
    session: Session, sealer: Sealer
) -> None:
    store, nonce = CountingStore(in_database=True), secrets.token_urlsafe(16)
    env = env_with(store, sealer)

    answer = instance_calls.check_in(session, env, call_with(nonce), REPORT)

    assert str(answer.verdict.code) == "NOT_ACTIVATED"
    assert store.asked == 0  # the store was not asked: the check-in statement wrote it
    used = select(func.count()).select_from(ReplayNonce).where(ReplayNonce.nonce == nonce)
    assert session.scalar(used) == 1
    with pytest.raises(NonceReplayed):
        instance_calls.check_in(session, env, call_with(nonce), REPORT)
