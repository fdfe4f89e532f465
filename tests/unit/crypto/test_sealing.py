"""Sealed secrets open only under the same master key, for the same table and row."""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from licensing.crypto.sealing import HASH_KEYS_TABLE, HASH_PURPOSES, SealBroken, Sealer

MASTER_KEY = bytes(range(32))
NEW_KEY = bytes(range(100, 132))
ROW = uuid.UUID("00000000-0000-4000-8000-000000000001")
SECRET = b"0123456789ABCDEFGHJKMNPQ9"


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(MASTER_KEY)


def test_round_trip(sealer: Sealer) -> None:
    sealed = sealer.seal(SECRET, table="licenses", row_id=ROW)
    assert SECRET not in sealed
    assert sealer.open(sealed, table="licenses", row_id=ROW) == SECRET


def test_sealing_twice_gives_different_ciphertexts(sealer: Sealer) -> None:
    first = sealer.seal(SECRET, table="licenses", row_id=ROW)
    assert first != sealer.seal(SECRET, table="licenses", row_id=ROW)


@pytest.mark.parametrize(
    ("table", "row_id"),
    [("licenses", uuid.UUID("00000000-0000-4000-8000-000000000002")), ("server_keys", ROW)],
)
def test_a_seal_moved_to_another_row_or_table_does_not_open(
    sealer: Sealer, table: str, row_id: uuid.UUID
) -> None:
    sealed = sealer.seal(SECRET, table="licenses", row_id=ROW)
    with pytest.raises(SealBroken, match="does not open"):
        sealer.open(sealed, table=table, row_id=row_id)


def test_another_master_key_does_not_open(sealer: Sealer) -> None:
    sealed = sealer.seal(SECRET, table="licenses", row_id=ROW)
    with pytest.raises(SealBroken, match="not under the current master key"):
        Sealer(bytes(32)).open(sealed, table="licenses", row_id=ROW)


def test_any_tampered_byte_is_detected(sealer: Sealer) -> None:
    sealed = sealer.seal(SECRET, table="licenses", row_id=ROW)
    for index in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        with pytest.raises(SealBroken):
            sealer.open(bytes(tampered), table="licenses", row_id=ROW)


def test_a_truncated_seal_is_detected(sealer: Sealer) -> None:
    sealed = sealer.seal(SECRET, table="licenses", row_id=ROW)
    with pytest.raises(SealBroken):
        sealer.open(sealed[:-1], table="licenses", row_id=ROW)


def test_keyed_hash_depends_on_purpose_and_master_key(sealer: Sealer) -> None:
    ip = b"192.0.2.10"
    assert sealer.keyed_hash("ip", ip) == Sealer(MASTER_KEY).keyed_hash("ip", ip)
    assert sealer.keyed_hash("ip", ip) != sealer.keyed_hash("server-name", ip)
    assert sealer.keyed_hash("ip", ip) != Sealer(bytes(32)).keyed_hash("ip", ip)
    assert len(sealer.keyed_hash("ip", ip)) == 32


def test_the_master_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Sealer(bytes(16))


def legacy_seal(master_key: bytes, plaintext: bytes, *, table: str, row_id: object) -> bytes:
    """A value as sealed before envelopes named their key: version 1, no key id."""
    subkey = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"licensing/kek/sealing"
    ).derive(master_key)
    nonce = bytes(12)
    return b"\x01" + nonce + AESGCM(subkey).encrypt(nonce, plaintext, f"{table}:{row_id}".encode())


def test_a_seal_names_the_master_key_that_made_it(sealer: Sealer) -> None:
    sealed = sealer.seal(SECRET, table="licenses", row_id=ROW)
    assert sealed[:1] == b"\x02"
    assert sealed[1:9].hex() == sealer.key_id
    assert sealer.sealed_by(sealed) == sealer.key_id
    assert sealer.sealed_by(legacy_seal(MASTER_KEY, SECRET, table="licenses", row_id=ROW)) is None
    assert sealer.is_current(sealed)
    assert not Sealer(NEW_KEY).is_current(sealed)
    assert sealer.key_id != Sealer(NEW_KEY).key_id


def test_a_value_sealed_before_key_ids_still_opens(sealer: Sealer) -> None:
    sealed = legacy_seal(MASTER_KEY, SECRET, table="licenses", row_id=ROW)

    assert sealer.open(sealed, table="licenses", row_id=ROW) == SECRET
    assert not sealer.is_current(sealed)  # a rotation re-seals it with a key id
    # ... also as the previous key of a rotation, and then under the new key only.
    rotating = Sealer(NEW_KEY, previous=MASTER_KEY)
    assert rotating.open(sealed, table="licenses", row_id=ROW) == SECRET
    resealed = rotating.reseal(sealed, table="licenses", row_id=ROW)
    assert Sealer(NEW_KEY).open(resealed, table="licenses", row_id=ROW) == SECRET
    with pytest.raises(SealBroken, match="does not open"):
        Sealer(NEW_KEY).open(sealed, table="licenses", row_id=ROW)


def test_a_key_id_mismatch_names_both_keys(sealer: Sealer) -> None:
    sealed = sealer.seal(SECRET, table="licenses", row_id=ROW)
    other = Sealer(NEW_KEY)

    with pytest.raises(SealBroken) as raised:
        other.open(sealed, table="licenses", row_id=ROW)
    assert raised.value.detail == (
        f"sealed secret in licenses row {ROW} does not open: it was sealed under master key "
        f"{sealer.key_id}, not under the current master key {other.key_id}"
    )


def test_during_a_rotation_both_keys_open_and_new_seals_use_the_new_key() -> None:
    old = Sealer(MASTER_KEY).seal(SECRET, table="licenses", row_id=ROW)
    rotating = Sealer(NEW_KEY, previous=MASTER_KEY)

    assert rotating.open(old, table="licenses", row_id=ROW) == SECRET
    new = rotating.seal(SECRET, table="licenses", row_id=ROW)
    assert rotating.is_current(new)
    assert rotating.previous_key_id == Sealer(MASTER_KEY).key_id
    with pytest.raises(SealBroken, match="not under"):
        Sealer(MASTER_KEY).open(new, table="licenses", row_id=ROW)


def test_keyed_hashes_outlive_a_rotation_through_the_stored_keys(sealer: Sealer) -> None:
    before = sealer.keyed_hash("ip", b"192.0.2.10")
    # A rotation derives the keys from the previous master key and stores them sealed.
    rotating = Sealer(NEW_KEY, previous=MASTER_KEY)
    assert rotating.keyed_hash("ip", b"192.0.2.10") == before
    stored = {
        purpose: rotating.seal(key, table=HASH_KEYS_TABLE, row_id=purpose)
        for purpose, key in rotating.hash_keys().items()
    }
    assert set(stored) == set(HASH_PURPOSES)

    after = Sealer(NEW_KEY, stored_hash_keys=lambda: stored)
    assert after.keyed_hash("ip", b"192.0.2.10") == before
    with pytest.raises(SealBroken):
        Sealer(MASTER_KEY, stored_hash_keys=lambda: stored).keyed_hash("ip", b"192.0.2.10")
