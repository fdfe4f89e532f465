"""Lease ids carry keyed tags that bind them to their activation (the lease chain)."""

from __future__ import annotations

import uuid

import pytest

from licensing.crypto.lease_ids import lease_id_verifies, new_lease_id
from licensing.crypto.sealing import Sealer

LICENSE = uuid.UUID("0b7e4f1c-2d3a-4c5b-8e9f-a1b2c3d4e5f6")
ACTIVATION = uuid.UUID("6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b")
FINGERPRINT = "fp-0001"


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(b"k" * 32)


def issued(
    sealer: Sealer,
    activation_id: uuid.UUID | None = ACTIVATION,
    fingerprint: str | None = FINGERPRINT,
) -> str:
    return new_lease_id(
        sealer, license_id=LICENSE, activation_id=activation_id, fingerprint=fingerprint
    )


def verifies(
    sealer: Sealer,
    jti: str,
    *,
    license_id: uuid.UUID = LICENSE,
    activation_id: uuid.UUID | None = None,
    fingerprint: str | None = None,
) -> bool:
    return lease_id_verifies(
        sealer, jti, license_id=license_id, activation_id=activation_id, fingerprint=fingerprint
    )


def test_an_id_issued_with_both_verifies_by_either_for_its_activation_only(
    sealer: Sealer,
) -> None:
    jti = issued(sealer)

    assert verifies(sealer, jti, activation_id=ACTIVATION)
    assert verifies(sealer, jti, fingerprint=FINGERPRINT)
    assert verifies(sealer, jti, activation_id=ACTIVATION, fingerprint=FINGERPRINT)
    assert not verifies(sealer, jti, activation_id=uuid.uuid4())
    assert not verifies(sealer, jti, fingerprint="fp-0002")
    assert not verifies(sealer, jti, license_id=uuid.uuid4(), fingerprint=FINGERPRINT)
    assert not verifies(sealer, jti)


def test_an_id_is_bound_only_by_what_its_check_in_named(sealer: Sealer) -> None:
    by_id, by_fingerprint = issued(sealer, fingerprint=None), issued(sealer, activation_id=None)

    assert verifies(sealer, by_id, activation_id=ACTIVATION)
    assert not verifies(sealer, by_id, fingerprint=FINGERPRINT)
    assert verifies(sealer, by_fingerprint, fingerprint=FINGERPRINT)
    assert not verifies(sealer, by_fingerprint, activation_id=ACTIVATION)
    # Named by both, an id with only the fingerprint's tag is checked by the fingerprint.
    assert verifies(sealer, by_fingerprint, activation_id=ACTIVATION, fingerprint=FINGERPRINT)


def test_ids_are_fresh_short_and_printable(sealer: Sealer) -> None:
    ids = {issued(sealer) for _ in range(100)}

    assert len(ids) == 100
    assert {len(i) for i in ids} == {42}  # the protocol allows 64
    assert all(i.isascii() and i.isprintable() for i in ids)


def test_another_servers_key_does_not_verify(sealer: Sealer) -> None:
    jti = issued(Sealer(b"o" * 32))

    assert not verifies(sealer, jti, activation_id=ACTIVATION, fingerprint=FINGERPRINT)


def test_an_altered_id_does_not_verify(sealer: Sealer) -> None:
    jti = issued(sealer, fingerprint=None)
    random, tag, _ = jti.split(".")
    flipped = "B" if tag[0] != "B" else "C"

    for altered in (
        f"{random}.{flipped}{tag[1:]}.",  # another tag
        f"{random[::-1]}.{tag}.",  # another random part
        f"{random}.{tag}=.",
        f"{random}.{tag}",
        f"{random}{tag}.",
        jti + ".",
    ):
        assert not verifies(sealer, altered, activation_id=ACTIVATION), altered


@pytest.mark.parametrize(
    "presented",
    [
        str(uuid.uuid4()),
        "",
        "..",
        "x" * 64,
        "AAAAAAAAAAAAAAAA.AAAAAAAAAAAA.AAAAAAAAAAAA",
        "!!!!!!!!!!!!!!!!.!!!!!!!!!!!!.",
    ],
    ids=["uuid-from-before", "empty", "dots", "long", "guessed-tags", "not-base64"],
)
def test_ids_the_server_did_not_issue_do_not_verify(sealer: Sealer, presented: str) -> None:
    assert not verifies(sealer, presented, activation_id=ACTIVATION, fingerprint=FINGERPRINT)
