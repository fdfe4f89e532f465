"""License keys exactly as PROTOCOL.md §1: format, normalisation, check symbol, key id."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from licensing.crypto.encoding import b64url
from licensing.errors import MalformedKey

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
KEY_LENGTH = 25
_SYMBOLS = frozenset(ALPHABET)
_DROPPED = str.maketrans("", "", "- \t")
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SIGNING_INFO = b"licensing/v1/request-signing"
# A key id is 22 base64url characters; a license key has dashes or 25 symbols.
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{22}")


@dataclass(frozen=True, slots=True)
class LicenseKey:
    """A well-formed key in normalised form (25 symbols, no separators)."""

    normalised: str

    @property
    def display(self) -> str:
        return format_key(self.normalised)

    @property
    def key_id(self) -> str:
        return key_id(self.normalised)

    @property
    def hint(self) -> str:
        return self.normalised[-5:]

    def __repr__(self) -> str:  # never print the key itself by accident
        return f"LicenseKey(key_id={self.key_id!r})"


def generate() -> LicenseKey:
    """A new key: 120 random bits in 24 symbols, then the check symbol."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(KEY_LENGTH - 1))
    return LicenseKey(body + check_symbol(body))


def parse(text: str) -> LicenseKey:
    """Normalise ``text``; raise :class:`MalformedKey` saying what is wrong."""
    return LicenseKey(normalise(text))


def normalise(text: str) -> str:
    candidate = normalise_symbols(text)
    if len(candidate) != KEY_LENGTH:
        raise MalformedKey(
            f"license key has {len(candidate)} symbols; it needs {KEY_LENGTH} (five groups of five)"
        )
    if candidate[-1] != check_symbol(candidate[:-1]):
        raise MalformedKey("license key's check symbol does not match: a symbol is mistyped")
    return candidate


def normalise_symbols(text: str) -> str:
    """Key symbols as stored (upper case, no separators, look-alikes mapped), any length."""
    for char in text:
        if not char.isascii():
            raise MalformedKey(f"license key contains {char!r}, which is not ASCII")
    candidate = text.upper().translate(_DROPPED).translate(_LOOKALIKES)
    for char in candidate:
        if char not in _SYMBOLS:
            raise MalformedKey(f"license key contains {char!r}, which is not a key symbol")
    return candidate


def check_symbol(first_24: str) -> str:
    return ALPHABET[hashlib.sha256(first_24.encode("ascii")).digest()[0] & 0x1F]


def key_id(normalised: str) -> str:
    """The public key id (safe to log and store): 22 base64url characters."""
    return b64url(hashlib.sha256(b"license-key-id:" + normalised.encode("ascii")).digest())[:22]


def is_key_id(text: str) -> bool:
    """Whether ``text`` has the shape of a key id (not whether any license has it)."""
    return _KEY_ID.fullmatch(text) is not None


def signing_secret(normalised: str) -> bytes:
    """The HMAC secret an instance signs its requests with."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"", info=_SIGNING_INFO).derive(
        normalised.encode("ascii")
    )


def format_key(normalised: str) -> str:
    return "-".join(normalised[i : i + 5] for i in range(0, KEY_LENGTH, 5))
