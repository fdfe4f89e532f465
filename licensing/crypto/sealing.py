"""Secrets at rest: AES-256-GCM under the key-encryption key, bound to their row.

A sealed value is ``version 2 (1 byte) || key id (8) || nonce (12) || ciphertext+tag``:
the key id names the master key that sealed it, so during a rotation the value is
opened by the right key and afterwards a value under any other key is told apart
from tampered data. Values sealed before key ids existed are version 1 (no key id)
and are tried under each key the sealer holds. The associated data names the table
and the row's id (and, from version 2, the header), so a sealed value copied to
another row or table does not open.

Keyed hashes (HMAC-SHA256) use purpose-bound keys that must outlive a rotation of the
master key (partner key digests and observation keys are compared with hashes made
years ago). They are derived from the master key the first time and, once a rotation
has run, kept sealed in the ``hash_keys`` table, which ``stored_hash_keys`` reads.

The usage purposes (:data:`USAGE_HASH_PURPOSES`: addresses, server names, observation
keys) hash under a key per UTC month instead: 32 random bytes, never derived (a key that
can be derived again cannot be destroyed), sealed in ``hash_keys`` with the month as its
period, created on first use and deleted when the data hashed under it has expired.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import date

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from licensing.errors import LicensingError

_LEGACY_VERSION = LEGACY_HEADER = b"\x01"
_VERSION = b"\x02"
_KEY_ID_BYTES = KEY_ID_BYTES = 8
_HEADER_BYTES = 1 + _KEY_ID_BYTES
_NONCE_BYTES = 12

HASH_KEYS_TABLE = "hash_keys"
# Every purpose a keyed hash is made for: a rotation keeps each one's key.
HASH_PURPOSES = ("erasure-ledger", "ip", "lease-id", "observation", "partner-key", "server-name")

# The purposes whose keys rotate monthly: personal usage data, whose hashes must become
# unlinkable once the data has expired. Their fixed keys of HASH_PURPOSES hashed what
# was stored before monthly keys existed: searched for it, and destroyed once it is gone
# (services/fixed_usage_keys.py).
USAGE_HASH_PURPOSES = ("ip", "observation", "server-name")
PERIOD_KEY_BYTES = 32
_PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
# A handful of months per purpose are in use at once (this one, the last while a scan or
# a search runs): past this, the cache starts again rather than grow.
_PERIOD_KEYS_CACHED = 64

StoredHashKeys = Callable[[], Mapping[str, bytes]]
# Stores a period key once: (purpose, period, candidate sealed key) -> the sealed key
# stored (the candidate, or the one another worker stored first) and whether it is
# committed already (only then is it cached: a rolled-back key must not be used again).
PeriodKeyStore = Callable[[str, str, bytes], tuple[bytes, bool]]
# Whether any stored value was sealed under the sealer's previous key.
PreviousKeySealed = Callable[["Sealer"], bool]


class SealBroken(LicensingError):
    """A sealed value that does not open: wrong master key, or tampered/moved data."""

    status = 500
    code = "SEAL_BROKEN"
    title = "Sealed secret cannot be opened"


def hash_period(day: date) -> str:
    """The key period of data about ``day``: its UTC calendar month, ``YYYY-MM``."""
    return f"{day.year:04d}-{day.month:02d}"


def hash_key_row_id(purpose: str, period: str) -> str:
    """What a hash key's seal is bound to: a fixed key's purpose, or ``purpose/period``
    (so a month's sealed key copied to another month does not open)."""
    return f"{purpose}/{period}" if period else purpose


def master_key_id(master_key: bytes) -> str:
    """A short public name of a master key: it identifies the key, it reveals nothing."""
    return _key_id(master_key).hex()


class Sealer:
    """Seals under the current master key, opens under it or the previous one (rotation).

    ``stored_hash_keys`` returns the sealed keyed-hash keys by purpose; it is called
    the first time a keyed hash is made (again only if that failed). While some are not
    stored and a previous key is held, ``previous_key_sealed`` says whether that key
    sealed the data (without it, it is taken to have).

    ``period_keys`` stores a month's key of a usage purpose the first time it is needed
    (:data:`PeriodKeyStore`); opened keys are kept ``period_key_ttl`` seconds (0: not
    kept), so a check-in reads no key once its month's is held and a destroyed key
    leaves every worker's memory soon after. Without a store (a sealer with no
    database) the keys live in memory only.
    """

    def __init__(
        self,
        master_key: bytes,
        *,
        previous: bytes | None = None,
        stored_hash_keys: StoredHashKeys | None = None,
        previous_key_sealed: PreviousKeySealed | None = None,
        period_keys: PeriodKeyStore | None = None,
        period_key_ttl: float = 60.0,
    ) -> None:
        if len(master_key) != 32 or (previous is not None and len(previous) != 32):
            raise ValueError("the key-encryption key must be 32 bytes")
        self._master_key = master_key
        self._previous = previous if previous != master_key else None
        self._header = _VERSION + _key_id(master_key)
        self._aeads: dict[bytes, AESGCM] = {_key_id(master_key): _aead(master_key)}
        if self._previous is not None:
            self._aeads[_key_id(self._previous)] = _aead(self._previous)
        self._stored_hash_keys = stored_hash_keys
        self._previous_key_sealed = previous_key_sealed
        self._hash_keys: dict[str, bytes] | None = None
        self._period_keys = period_keys
        self._period_key_ttl = period_key_ttl
        self._period_cache: dict[tuple[str, str], tuple[float, bytes]] = {}

    @property
    def key_id(self) -> str:
        return master_key_id(self._master_key)

    @property
    def previous_key_id(self) -> str | None:
        return master_key_id(self._previous) if self._previous is not None else None

    @property
    def previous_key(self) -> bytes | None:
        return self._previous

    @property
    def header(self) -> bytes:
        """The first bytes of every value sealed under the current key."""
        return self._header

    def seal(self, plaintext: bytes, *, table: str, row_id: object) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        aead = self._aeads[self._header[1:]]
        header = self._header
        return header + nonce + aead.encrypt(nonce, plaintext, header + _aad(table, row_id))

    def open(self, sealed: bytes, *, table: str, row_id: object) -> bytes:
        if sealed[:1] == _LEGACY_VERSION:
            return self._open_legacy(sealed, table=table, row_id=row_id)
        if sealed[:1] != _VERSION:
            raise SealBroken(f"unknown seal version in {table} row {row_id}")
        header, key_id = sealed[:_HEADER_BYTES], sealed[1:_HEADER_BYTES]
        aead = self._aeads.get(key_id)
        if aead is None:
            raise SealBroken(
                f"sealed secret in {table} row {row_id} does not open: it was sealed under "
                f"master key {key_id.hex()}, not under {self._held()}"
            )
        nonce = sealed[_HEADER_BYTES : _HEADER_BYTES + _NONCE_BYTES]
        ciphertext = sealed[_HEADER_BYTES + _NONCE_BYTES :]
        try:
            return aead.decrypt(nonce, ciphertext, header + _aad(table, row_id))
        except InvalidTag as exc:
            raise SealBroken(
                f"sealed secret in {table} row {row_id} does not open under master key "
                f"{key_id.hex()}: altered or moved data"
            ) from exc

    def sealed_by(self, sealed: bytes) -> str | None:
        """The id of the master key that sealed ``sealed`` (None: sealed before ids)."""
        if sealed[:1] != _VERSION:
            return None
        return sealed[1:_HEADER_BYTES].hex()

    def is_current(self, sealed: bytes) -> bool:
        """Whether ``sealed`` is under the current master key (a rotation skips it)."""
        return sealed[:_HEADER_BYTES] == self._header

    def reseal(self, sealed: bytes, *, table: str, row_id: object) -> bytes:
        """``sealed`` opened (under either key) and sealed again under the current key."""
        return self.seal(self.open(sealed, table=table, row_id=row_id), table=table, row_id=row_id)

    def keyed_hash(self, purpose: str, value: bytes) -> bytes:
        """HMAC-SHA256 under a subkey for ``purpose``: never an unkeyed hash of personal data."""
        keys = self._loaded_hash_keys()
        key = keys.get(purpose)
        if key is None:  # a purpose not in HASH_PURPOSES: its key would not outlive a rotation
            key = keys[purpose] = _subkey(self._origin(), f"hash/{purpose}")
        return hmac.new(key, value, hashlib.sha256).digest()

    def period_keyed_hash(self, purpose: str, period: str, value: bytes) -> bytes:
        """HMAC-SHA256 under ``purpose``'s key for the month ``period`` (made on first use)."""
        return hmac.new(self._period_key(purpose, period), value, hashlib.sha256).digest()

    def keyed_hash_under(self, purpose: str, period: str, sealed_key: bytes, value: bytes) -> bytes:
        """HMAC-SHA256 under a stored period key as read (a search over every month held)."""
        row_id = hash_key_row_id(purpose, period)
        key = self.open(sealed_key, table=HASH_KEYS_TABLE, row_id=row_id)
        return hmac.new(key, value, hashlib.sha256).digest()

    def forget_period_keys(self) -> None:
        """Drop the cached period keys (after some were destroyed)."""
        self._period_cache.clear()

    def _period_key(self, purpose: str, period: str) -> bytes:
        if purpose not in USAGE_HASH_PURPOSES or not _PERIOD.fullmatch(period):
            raise ValueError(f"no monthly key for {purpose!r} in period {period!r}")
        now = time.monotonic()
        cached = self._period_cache.get((purpose, period))
        if cached is not None and (self._period_keys is None or cached[0] > now):
            return cached[1]
        row_id = hash_key_row_id(purpose, period)
        if self._period_keys is None:
            key = secrets.token_bytes(PERIOD_KEY_BYTES)
            self._period_cache[(purpose, period)] = (now, key)
            return key
        candidate = self.seal(
            secrets.token_bytes(PERIOD_KEY_BYTES), table=HASH_KEYS_TABLE, row_id=row_id
        )
        sealed, committed = self._period_keys(purpose, period, candidate)
        key = self.open(sealed, table=HASH_KEYS_TABLE, row_id=row_id)
        if committed and self._period_key_ttl > 0:
            if len(self._period_cache) >= _PERIOD_KEYS_CACHED:
                self._period_cache.clear()
            self._period_cache[(purpose, period)] = (now + self._period_key_ttl, key)
        return key

    def hash_keys(self) -> Mapping[str, bytes]:
        """Every purpose's hash key: stored ones opened, the others derived (once)."""
        return dict(self._loaded_hash_keys())

    def _loaded_hash_keys(self) -> dict[str, bytes]:
        if self._hash_keys is None:
            # No lock: two threads loading at once get the same keys, whereas one that
            # waited here could hold the database lock the loading one needs (SQLite).
            stored = self._stored_hash_keys() if self._stored_hash_keys else {}
            origin = self._origin()
            self._hash_keys = {
                purpose: self.open(stored[purpose], table=HASH_KEYS_TABLE, row_id=purpose)
                if purpose in stored
                else _subkey(origin, f"hash/{purpose}")
                for purpose in HASH_PURPOSES
            }
        return self._hash_keys

    def _origin(self) -> bytes:
        """The key unstored hash keys derive from: the one that sealed the data so far.

        Hash keys are stored before a rotation re-seals anything, so until then the data
        is under one key: the previous one when it sealed any of it (a rotation under
        way), else the current one (a previous key that is wrong, or swapped with it).
        """
        if self._previous is None:
            return self._master_key
        if self._previous_key_sealed is not None and not self._previous_key_sealed(self):
            return self._master_key
        return self._previous

    def _open_legacy(self, sealed: bytes, *, table: str, row_id: object) -> bytes:
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        for aead in self._aeads.values():
            try:
                return aead.decrypt(nonce, ciphertext, _aad(table, row_id))
            except InvalidTag:
                continue
        raise SealBroken(
            f"sealed secret in {table} row {row_id} does not open under {self._held()}: "
            "wrong master key or altered data"
        )

    def _held(self) -> str:
        # Ids, not variable names: the key may have come from a file as well.
        held = f"the current master key {self.key_id}"
        if self.previous_key_id is not None:
            held += f" or the previous one {self.previous_key_id}"
        return held


def _key_id(master_key: bytes) -> bytes:
    return hmac.new(master_key, b"licensing/kek-id", hashlib.sha256).digest()[:_KEY_ID_BYTES]


def _aead(master_key: bytes) -> AESGCM:
    return AESGCM(_subkey(master_key, "sealing"))


def _subkey(master_key: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"licensing/kek/{purpose}".encode()
    ).derive(master_key)


def _aad(table: str, row_id: object) -> bytes:
    return f"{table}:{row_id}".encode()
