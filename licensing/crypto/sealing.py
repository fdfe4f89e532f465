"""Secrets at rest: AES-256-GCM under the key-encryption key, bound to their row.

A sealed value is ``version (1 byte) || nonce (12) || ciphertext+tag``. The associated
data names the table and the row's id, so a sealed value copied to another row or
table does not open.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from licensing.errors import LicensingError

_VERSION = b"\x01"
_NONCE_BYTES = 12


class SealBroken(LicensingError):
    """A sealed value that does not open: wrong master key, or tampered/moved data."""

    status = 500
    code = "SEAL_BROKEN"
    title = "Sealed secret cannot be opened"


class Sealer:
    """Seals and opens secrets, and derives purpose-bound subkeys, from the master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(_subkey(master_key, "sealing"))
        self._master_key = master_key
        self._hash_keys: dict[str, bytes] = {}

    def seal(self, plaintext: bytes, *, table: str, row_id: object) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, _aad(table, row_id))

    def open(self, sealed: bytes, *, table: str, row_id: object) -> bytes:
        if sealed[:1] != _VERSION:
            raise SealBroken(f"unknown seal version in {table} row {row_id}")
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, _aad(table, row_id))
        except InvalidTag as exc:
            raise SealBroken(
                f"sealed secret in {table} row {row_id} does not open: "
                "wrong LICENSING_MASTER_KEY or altered data"
            ) from exc

    def keyed_hash(self, purpose: str, value: bytes) -> bytes:
        """HMAC-SHA256 under a subkey for ``purpose``: never an unkeyed hash of personal data."""
        key = self._hash_keys.get(purpose)
        if key is None:  # derived once per purpose: HKDF on every check-in would be waste
            key = self._hash_keys[purpose] = _subkey(self._master_key, f"hash/{purpose}")
        return hmac.new(key, value, hashlib.sha256).digest()


def _subkey(master_key: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"licensing/kek/{purpose}".encode()
    ).derive(master_key)


def _aad(table: str, row_id: object) -> bytes:
    return f"{table}:{row_id}".encode()
