"""The usage purposes' keys per month: random, stored once, cached only once committed."""

from __future__ import annotations

from datetime import date

import pytest

from licensing.crypto.sealing import (
    HASH_KEYS_TABLE,
    PERIOD_KEY_BYTES,
    SealBroken,
    Sealer,
    hash_key_row_id,
    hash_period,
)

MASTER_KEY = bytes(range(32))
IP = b"192.0.2.10"


class Store:
    """A key store as the database keeps it: the first key stored for a month wins."""

    def __init__(self, *, committed: bool = True) -> None:
        self.rows: dict[tuple[str, str], bytes] = {}
        self.calls = 0
        self.committed = committed

    def __call__(self, purpose: str, period: str, candidate: bytes) -> tuple[bytes, bool]:
        self.calls += 1
        return self.rows.setdefault((purpose, period), candidate), self.committed


def test_the_period_is_the_utc_calendar_month_of_the_day() -> None:
    assert hash_period(date(2026, 1, 31)) == "2026-01"
    assert hash_period(date(2026, 12, 1)) == "2026-12"
    assert hash_key_row_id("ip", "2026-12") == "ip/2026-12"
    assert hash_key_row_id("partner-key", "") == "partner-key"


def test_each_month_hashes_under_its_own_random_key() -> None:
    store = Store()
    sealer = Sealer(MASTER_KEY, period_keys=store)
    november = sealer.period_keyed_hash("ip", "2026-11", IP)
    assert sealer.period_keyed_hash("ip", "2026-11", IP) == november
    assert sealer.period_keyed_hash("ip", "2026-12", IP) != november
    assert sealer.period_keyed_hash("server-name", "2026-11", IP) != november
    # Not derived from the master key: another store (a destroyed key) gives another hash,
    # and the fixed key of the purpose is a different one again.
    assert Sealer(MASTER_KEY, period_keys=Store()).period_keyed_hash("ip", "2026-11", IP) != (
        november
    )
    assert sealer.keyed_hash("ip", IP) != november
    sealed = store.rows[("ip", "2026-11")]
    key = sealer.open(sealed, table=HASH_KEYS_TABLE, row_id="ip/2026-11")
    assert len(key) == PERIOD_KEY_BYTES
    assert sealer.keyed_hash_under("ip", "2026-11", sealed, IP) == november


def test_two_workers_share_the_key_stored_first() -> None:
    store = Store()
    one, two = Sealer(MASTER_KEY, period_keys=store), Sealer(MASTER_KEY, period_keys=store)
    assert one.period_keyed_hash("observation", "2026-12", IP) == two.period_keyed_hash(
        "observation", "2026-12", IP
    )
    assert len(store.rows) == 1


def test_a_committed_key_is_read_once_and_an_uncommitted_one_every_time() -> None:
    committed, pending = Store(), Store(committed=False)
    cached = Sealer(MASTER_KEY, period_keys=committed)
    uncached = Sealer(MASTER_KEY, period_keys=pending)
    for _ in range(3):
        cached.period_keyed_hash("ip", "2026-12", IP)
        uncached.period_keyed_hash("ip", "2026-12", IP)
    assert (committed.calls, pending.calls) == (1, 3)
    no_cache = Sealer(MASTER_KEY, period_keys=Store(), period_key_ttl=0)
    no_cache.period_keyed_hash("ip", "2026-12", IP)
    cached.forget_period_keys()
    cached.period_keyed_hash("ip", "2026-12", IP)
    assert committed.calls == 2


def test_a_months_sealed_key_does_not_open_as_another_month() -> None:
    store = Store()
    sealer = Sealer(MASTER_KEY, period_keys=store)
    sealer.period_keyed_hash("ip", "2026-11", IP)
    with pytest.raises(SealBroken):
        sealer.keyed_hash_under("ip", "2026-12", store.rows[("ip", "2026-11")], IP)


@pytest.mark.parametrize(
    ("purpose", "period"),
    [("partner-key", "2026-12"), ("ip", ""), ("ip", "2026-13"), ("ip", "2026-1")],
)
def test_only_usage_purposes_have_monthly_keys_and_a_period_is_a_month(
    purpose: str, period: str
) -> None:
    with pytest.raises(ValueError, match="no monthly key"):
        Sealer(MASTER_KEY, period_keys=Store()).period_keyed_hash(purpose, period, IP)
