"""Lease ids (the ``jti`` claim) that this server can recognise as its own, cheaply.

An id is ``random "." activation tag "." fingerprint tag``: 12 random bytes and two
9-byte tags, each base64url, at most 42 characters (the protocol allows 64). A tag is
HMAC-SHA256 under the sealer's ``lease-id`` hash key, truncated, over the random part and
what the id is bound to: the activation's id, or the license's id and the fingerprint.
Either tag is empty when the issuing call did not know that value (a check-in names its
activation by id, by fingerprint or by both), so a later check-in is verified by the
binding it names, with one HMAC, before anything is written for it.

Clients treat the id as opaque (docs/protocol.md decision 19). Anything that does not
verify (a made-up id, one issued to another activation, a UUID from before ids were
tagged) is no evidence, and is not an error either.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import uuid

from licensing.crypto.sealing import Sealer

# The keyed-hash purpose of the tags (crypto/sealing.py HASH_PURPOSES).
LEASE_ID_PURPOSE = "lease-id"
_RANDOM_BYTES = 12  # 16 characters
_TAG_BYTES = 9  # 12 characters: a forger's chance per guess is 2**-72
_RANDOM_CHARS, _TAG_CHARS = 16, 12


def new_lease_id(
    sealer: Sealer,
    *,
    license_id: uuid.UUID,
    activation_id: uuid.UUID | None,
    fingerprint: str | None,
) -> str:
    """A fresh id bound to whichever of the activation's id and fingerprint is known."""
    random = secrets.token_bytes(_RANDOM_BYTES)
    by_id = _activation_tag(sealer, activation_id, random) if activation_id else b""
    by_fingerprint = (
        _fingerprint_tag(sealer, license_id, fingerprint, random) if fingerprint else b""
    )
    return ".".join(_text(part) for part in (random, by_id, by_fingerprint))


def lease_id_verifies(
    sealer: Sealer,
    jti: str,
    *,
    license_id: uuid.UUID,
    activation_id: uuid.UUID | None,
    fingerprint: str | None,
) -> bool:
    """Whether ``jti`` was issued to the activation a check-in names (one HMAC).

    The activation id is checked when the check-in names it and the id carries its tag,
    else the fingerprint; the check-in's writes then match the same activation.
    """
    parts = jti.split(".")
    if len(parts) != 3 or len(parts[0]) != _RANDOM_CHARS:
        return False
    raw = [_raw(part) for part in parts]
    random, by_id, by_fingerprint = raw
    if random is None or len(random) != _RANDOM_BYTES:
        return False
    if activation_id is not None and by_id:
        return hmac.compare_digest(by_id, _activation_tag(sealer, activation_id, random))
    if fingerprint is not None and by_fingerprint:
        expected = _fingerprint_tag(sealer, license_id, fingerprint, random)
        return hmac.compare_digest(by_fingerprint, expected)
    return False


def _activation_tag(sealer: Sealer, activation_id: uuid.UUID, random: bytes) -> bytes:
    return sealer.keyed_hash(LEASE_ID_PURPOSE, b"a" + activation_id.bytes + random)[:_TAG_BYTES]


def _fingerprint_tag(
    sealer: Sealer, license_id: uuid.UUID, fingerprint: str, random: bytes
) -> bytes:
    # The random part has a fixed length, so no two (fingerprint, random) pairs collide.
    value = b"f" + license_id.bytes + random + fingerprint.encode()
    return sealer.keyed_hash(LEASE_ID_PURPOSE, value)[:_TAG_BYTES]


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _raw(text: str) -> bytes | None:
    """The bytes of one part, or None: a tag of the wrong length, or a second spelling."""
    if text and len(text) not in (_RANDOM_CHARS, _TAG_CHARS):
        return None
    try:
        raw = base64.urlsafe_b64decode(text)
    except ValueError:
        return None
    return raw if _text(raw) == text else None
