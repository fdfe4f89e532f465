"""Staff passwords: argon2id hashes (argon2-cffi's RFC 9106 parameters), verified in
about the same time whether or not an account exists."""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id; its defaults follow RFC 9106's second choice


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_nothing(password: str) -> None:
    """Spend the time of a real verification, for an e-mail address no account has,
    so that the answer's timing does not tell which addresses exist."""
    verify_password(_dummy_hash(), password)


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(password_hash)


def generate_password() -> str:
    """A password to show once: 20 URL-safe characters, about 120 bits."""
    return secrets.token_urlsafe(15)


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))
