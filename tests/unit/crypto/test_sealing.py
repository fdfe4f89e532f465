"""Sealed secrets open only under the same master key, for the same table and row."""

from __future__ import annotations

import uuid

import pytest

from licensing.crypto.sealing import SealBroken, Sealer

MASTER_KEY = bytes(range(32))
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
    with pytest.raises(SealBroken, match="LICENSING_MASTER_KEY"):
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
