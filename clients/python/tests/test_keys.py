"""License keys: normalisation, check symbol, key id, signing secret (PROTOCOL.md §1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakeserver import VECTOR_KEY
from licensing_client import InstanceClient, MalformedKeyError
from licensing_client.keys import ALPHABET, LicenseKey, check_symbol, key_id, normalise

VECTOR_NORMALISED = "6E86NJY2MXK1WS8JMXTQEHXDK"
VECTOR_KEY_ID = "_2VeT-FaaH_RjrT-cXOo1w"
VECTOR_SECRET = "83dc2f7fa1037f9b342bf0abdce4bbe44c4b1d100e842feffb7f556a5821048e"  # noqa: S105


def test_the_documented_vector() -> None:
    key = LicenseKey.parse(VECTOR_KEY)
    assert key.normalised == VECTOR_NORMALISED
    assert key.key_id == VECTOR_KEY_ID
    assert key.signing_secret.hex() == VECTOR_SECRET
    assert key.display == VECTOR_KEY
    assert check_symbol(VECTOR_NORMALISED[:24]) == "K"


@pytest.mark.parametrize(
    "typed",
    [
        "6e86n jy2mx klws8 jmxtq ehxdk",  # lower case, spaces, l -> 1 (the docs' example)
        "6E86NJY2MXK1WS8JMXTQEHXDK",
        " 6E86N-JY2MX-KIWS8-JMXTQ-EHXDK\t",  # I -> 1, tab and spaces around
        "6e86n-jy2mx-k1ws8-jmxtq-ehxdk",
    ],
)
def test_formatting_does_not_matter(typed: str) -> None:
    assert normalise(typed) == VECTOR_NORMALISED
    assert LicenseKey.parse(typed).key_id == VECTOR_KEY_ID


def test_o_reads_as_zero() -> None:
    first_24 = "O" * 24
    key = first_24 + check_symbol("0" * 24)
    assert normalise(key) == "0" * 24 + check_symbol("0" * 24)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("6E86N-JY2MX-K1WS8-JMXTQ-EHXDÉ", "not ASCII"),
        ("6E86N-JY2MX-K1WS8-JMXTQ-EHXDU", "not a key symbol"),
        ("6E86N-JY2MX-K1WS8-JMXTQ-EHXD*", "not a key symbol"),
        ("6E86N_JY2MX_K1WS8_JMXTQ_EHXDK", "not a key symbol"),
        ("6E86N-JY2MX-K1WS8-JMXTQ-EHXD", "has 24 symbols"),
        ("6E86N-JY2MX-K1WS8-JMXTQ-EHXDKK", "has 26 symbols"),
        ("", "has 0 symbols"),
        ("6E86N-JY2MX-K1WS8-JMXTQ-EHXDM", "check symbol"),
        ("7E86N-JY2MX-K1WS8-JMXTQ-EHXDK", "check symbol"),
    ],
)
def test_malformed_keys(typed: str, message: str) -> None:
    with pytest.raises(MalformedKeyError, match=message) as caught:
        normalise(typed)
    assert caught.value.code == "MALFORMED_KEY"
    assert isinstance(caught.value, ValueError)


def test_every_single_symbol_typo_is_caught_by_the_check_symbol_or_alphabet() -> None:
    caught = 0
    for position in range(24):
        for symbol in ALPHABET:
            if symbol == VECTOR_NORMALISED[position]:
                continue
            typo = VECTOR_NORMALISED[:position] + symbol + VECTOR_NORMALISED[position + 1 :]
            try:
                normalise(typo)
            except MalformedKeyError:
                caught += 1
    # A 5-bit check symbol catches all but ~1/32 of substitutions.
    assert caught > 0.9 * 24 * 31


def test_key_id_is_22_base64url_characters() -> None:
    kid = key_id(VECTOR_NORMALISED)
    assert len(kid) == 22
    assert set(kid) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_repr_shows_neither_key_nor_secret() -> None:
    key = LicenseKey.parse(VECTOR_KEY)
    text = repr(key)
    assert VECTOR_KEY_ID in text
    assert VECTOR_NORMALISED not in text
    assert VECTOR_SECRET not in text
    assert "signing_secret" not in text


def test_a_malformed_key_fails_at_construction(tmp_path: Path, jwks: dict[str, Any]) -> None:
    with pytest.raises(MalformedKeyError):
        InstanceClient("http://licensing.test", "not-a-key", "p", tmp_path, jwks)
    assert not (tmp_path / "fingerprint").exists()
