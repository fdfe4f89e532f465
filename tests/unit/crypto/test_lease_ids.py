"""Lease ids carry a keyed tag that binds them to their activation (the lease chain)."""

from __future__ import annotations

import uuid

import pytest

from licensing.crypto.leases import lease_id_verifies, new_lease_id
from licensing.crypto.sealing import Sealer

ACTIVATION = uuid.UUID("6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b")


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(b"k" * 32)


def test_an_issued_id_verifies_for_its_activation_only(sealer: Sealer) -> None:
    issued = new_lease_id(sealer, ACTIVATION)

    assert lease_id_verifies(sealer, issued, ACTIVATION)
    assert not lease_id_verifies(sealer, issued, uuid.uuid4())
    assert not lease_id_verifies(sealer, issued, None)


def test_ids_are_fresh_short_and_printable(sealer: Sealer) -> None:
    ids = {new_lease_id(sealer, ACTIVATION) for _ in range(100)}

    assert len(ids) == 100
    assert {len(i) for i in ids} == {29}  # well under the protocol's 64
    assert all(i.isascii() and i.isprintable() for i in ids)


def test_another_servers_key_does_not_verify(sealer: Sealer) -> None:
    issued = new_lease_id(Sealer(b"o" * 32), ACTIVATION)

    assert not lease_id_verifies(sealer, issued, ACTIVATION)


def test_an_altered_id_does_not_verify(sealer: Sealer) -> None:
    issued = new_lease_id(sealer, ACTIVATION)
    random, _, tag = issued.partition(".")
    flipped = "B" if tag[0] != "B" else "C"

    for altered in (
        f"{random}.{flipped}{tag[1:]}",  # another tag
        f"{random[::-1]}.{tag}",  # another random part
        f"{random}.{tag}=",
        f"{random}{tag}",
        issued + ".",
    ):
        assert not lease_id_verifies(sealer, altered, ACTIVATION), altered


@pytest.mark.parametrize(
    "presented",
    [
        str(uuid.uuid4()),
        "",
        ".",
        "x" * 64,
        "AAAAAAAAAAAAAAAA.AAAAAAAAAAAA",
        "!!!!!!!!!!!!!!!!.!!!!!!!!!!!!",
    ],
    ids=["uuid-from-before", "empty", "dot", "long", "guessed-tag", "not-base64"],
)
def test_ids_the_server_did_not_issue_do_not_verify(sealer: Sealer, presented: str) -> None:
    assert not lease_id_verifies(sealer, presented, ACTIVATION)


def test_a_check_in_without_an_activation_id_gets_an_unbound_id(sealer: Sealer) -> None:
    unbound = new_lease_id(sealer, None)

    assert "." not in unbound
    assert not lease_id_verifies(sealer, unbound, ACTIVATION)
