"""License keys as PROTOCOL.md §1 fixes them; the formulas are re-derived here, not imported."""

from __future__ import annotations

import base64
import hashlib
import hmac
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing.crypto import license_keys
from licensing.errors import MalformedKey

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SEPARATORS = ("-", " ", "\t")
# What a person may type for each symbol besides the symbol itself.
LOOKALIKES = {"0": ("O", "o"), "1": ("I", "i", "L", "l")}

VECTOR_BODY = "0123456789ABCDEFGHJKMNPQ"
VECTOR_KEY = VECTOR_BODY + "9"
VECTOR_KEY_ID = "3xey3BYlYKn16aeoMxLQ1P"


def spec_check_symbol(first_24: str) -> str:
    return CROCKFORD[hashlib.sha256(first_24.encode("ascii")).digest()[0] & 0x1F]


def spec_key_id(normalised: str) -> str:
    digest = hashlib.sha256(b"license-key-id:" + normalised.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")[:22]


def spec_signing_secret(normalised: str) -> bytes:
    """HKDF-SHA256 (RFC 5869) written out: extract with an empty salt, expand one block."""
    prk = hmac.new(b"", normalised.encode("ascii"), hashlib.sha256).digest()
    return hmac.new(prk, b"licensing/v1/request-signing\x01", hashlib.sha256).digest()


valid_keys = st.text(alphabet=CROCKFORD, min_size=24, max_size=24).map(
    lambda body: body + spec_check_symbol(body)
)


@st.composite
def spellings(draw: st.DrawFn, normalised: str) -> str:
    """``normalised`` as a person might type it: any case, look-alikes, separators anywhere."""
    separators = st.lists(st.sampled_from(SEPARATORS), max_size=2).map("".join)
    typed = [draw(separators)]
    for symbol in normalised:
        variants = (symbol, symbol.lower(), *LOOKALIKES.get(symbol, ()))
        typed += [draw(st.sampled_from(variants)), draw(separators)]
    return "".join(typed)


def test_the_fixed_vector_follows_the_protocol_formulas() -> None:
    assert spec_check_symbol(VECTOR_BODY) == "9"
    assert license_keys.check_symbol(VECTOR_BODY) == "9"
    assert spec_key_id(VECTOR_KEY) == VECTOR_KEY_ID
    assert license_keys.key_id(VECTOR_KEY) == VECTOR_KEY_ID
    assert license_keys.signing_secret(VECTOR_KEY) == spec_signing_secret(VECTOR_KEY)
    assert license_keys.parse("01234-56789-abcde-fghjk-mnpq9").normalised == VECTOR_KEY


@given(valid_keys)
def test_check_symbol_and_key_id_match_the_formulas(normalised: str) -> None:
    key = license_keys.parse(normalised)
    assert key.key_id == spec_key_id(normalised)
    assert len(key.key_id) == 22
    assert set(key.key_id) <= set(string.ascii_letters + string.digits + "-_")
    assert license_keys.signing_secret(normalised) == spec_signing_secret(normalised)


@given(st.data(), valid_keys)
def test_any_spelling_of_a_valid_key_normalises_to_it(data: st.DataObject, normalised: str) -> None:
    typed = data.draw(spellings(normalised))
    assert license_keys.parse(typed).normalised == normalised


@given(st.data(), valid_keys)
def test_a_mistyped_symbol_never_yields_the_original_key(
    data: st.DataObject, normalised: str
) -> None:
    position = data.draw(st.integers(0, 24))
    wrong = data.draw(st.sampled_from([s for s in CROCKFORD if s != normalised[position]]))
    typo = normalised[:position] + wrong + normalised[position + 1 :]
    try:
        key = license_keys.parse(typo)
    except MalformedKey as exc:
        assert "check symbol" in exc.detail
    else:
        assert position < 24, "a wrong check symbol must always be rejected"
        assert key.key_id != spec_key_id(normalised)


@given(valid_keys, st.integers(0, 24), st.characters(min_codepoint=128))
def test_non_ascii_is_malformed(normalised: str, position: int, char: str) -> None:
    with pytest.raises(MalformedKey, match="not ASCII"):
        license_keys.parse(normalised[:position] + char + normalised[position + 1 :])


@given(st.text(alphabet=CROCKFORD).filter(lambda text: len(text) != 25))
def test_a_wrong_number_of_symbols_is_malformed(text: str) -> None:
    with pytest.raises(MalformedKey, match=rf"has {len(text)} symbols; it needs 25"):
        license_keys.parse(text)


@pytest.mark.parametrize("symbol", ["U", "u", "*", "_", "+"])
def test_a_symbol_outside_crockford_base32_is_malformed(symbol: str) -> None:
    text = VECTOR_KEY[:7] + symbol + VECTOR_KEY[8:]
    with pytest.raises(MalformedKey, match="not a key symbol") as raised:
        license_keys.parse(text)
    assert repr(symbol.upper()) in raised.value.detail
    assert raised.value.errors == {"license_key": [raised.value.detail]}


def test_generated_keys_are_well_formed_and_distinct() -> None:
    keys = [license_keys.generate() for _ in range(50)]
    assert len({key.normalised for key in keys}) == 50
    for key in keys:
        assert license_keys.parse(key.display) == key
        assert key.normalised[-1] == spec_check_symbol(key.normalised[:24])


def test_display_form_is_five_groups_of_five() -> None:
    key = license_keys.parse(VECTOR_KEY)
    assert key.display == "01234-56789-ABCDE-FGHJK-MNPQ9"
    assert key.hint == "MNPQ9"


def test_repr_and_str_never_show_the_key() -> None:
    key = license_keys.parse(VECTOR_KEY)
    for shown in (repr(key), str(key), f"{key}", repr([key])):
        assert VECTOR_KEY not in shown
        assert key.display not in shown
    assert VECTOR_KEY_ID in repr(key)


def test_a_key_id_has_the_shape_of_22_base64url_characters() -> None:
    issued = license_keys.generate()
    assert license_keys.is_key_id(issued.key_id)
    assert license_keys.is_key_id("-" + "A" * 21)
    assert not license_keys.is_key_id(issued.key_id[:21])
    assert not license_keys.is_key_id(issued.key_id + "\n")
    assert not license_keys.is_key_id(issued.display)
