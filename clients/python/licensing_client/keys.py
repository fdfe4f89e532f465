"""License keys (PROTOCOL.md §1): normalisation, check symbol, key id, signing secret."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from licensing_client.errors import MalformedKeyError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
KEY_LENGTH = 25
_DROPPED = str.maketrans("", "", "- \t")
_MAPPED = str.maketrans({"O": "0", "I": "1", "L": "1"})
_KEY_ID_PREFIX = b"license-key-id:"
_SIGNING_INFO = b"licensing/v1/request-signing"


def check_symbol(first_24: str) -> str:
    """The Crockford symbol for ``sha256(first_24_ascii)[0] & 0x1f``."""
    return ALPHABET[hashlib.sha256(first_24.encode("ascii")).digest()[0] & 0x1F]


def normalise(raw: str) -> str:
    """The normalised form of a key as typed, or :class:`MalformedKeyError`.

    In order: non-ASCII is rejected; upper-case; ``-``, space and tab dropped;
    ``O``→``0`` and ``I``/``L``→``1``; then alphabet, length and check symbol.
    """
    for char in raw:
        if not char.isascii():
            raise MalformedKeyError(f"license key contains {char!r}, which is not ASCII")
    text = raw.upper().translate(_DROPPED).translate(_MAPPED)
    for char in text:
        if char not in ALPHABET:
            raise MalformedKeyError(f"license key contains {char!r}, which is not a key symbol")
    if len(text) != KEY_LENGTH:
        raise MalformedKeyError(
            f"license key has {len(text)} symbols; it needs {KEY_LENGTH} (five groups of five)"
        )
    if check_symbol(text[:-1]) != text[-1]:
        raise MalformedKeyError("license key's check symbol does not match: a symbol is mistyped")
    return text


def formatted(normalised: str) -> str:
    """A normalised key as ``XXXXX-XXXXX-XXXXX-XXXXX-XXXXX``."""
    return "-".join(normalised[i : i + 5] for i in range(0, len(normalised), 5))


def key_id(normalised: str) -> str:
    """``base64url_nopad(sha256(b"license-key-id:" + normalised))[:22]`` (public)."""
    digest = hashlib.sha256(_KEY_ID_PREFIX + normalised.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")[:22]


def signing_secret(normalised: str) -> bytes:
    """HKDF-SHA256 over the normalised key: the HMAC key of every signed request."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"", info=_SIGNING_INFO)
    return hkdf.derive(normalised.encode("ascii"))


@dataclass(frozen=True, slots=True)
class LicenseKey:
    """A well-formed license key. Its ``repr`` shows only the public key id."""

    key_id: str
    normalised: str = field(repr=False)
    signing_secret: bytes = field(repr=False)

    @classmethod
    def parse(cls, raw: str) -> LicenseKey:
        text = normalise(raw)
        return cls(key_id=key_id(text), normalised=text, signing_secret=signing_secret(text))

    @property
    def display(self) -> str:
        """``XXXXX-XXXXX-XXXXX-XXXXX-XXXXX``."""
        return formatted(self.normalised)
