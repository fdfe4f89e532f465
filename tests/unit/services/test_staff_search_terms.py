"""Reading a staff search query from its shape: which kinds it is tried as."""

from __future__ import annotations

import pytest

from licensing.crypto import license_keys
from licensing.errors import InvalidRequest, MalformedKey
from licensing.services.staff_search_terms import Matched, Term, recognise

KEY = license_keys.generate()


def _kinds(query: str) -> list[Matched]:
    return [term.matched for term in recognise(query)]


@pytest.mark.parametrize(
    ("query", "term"),
    [
        ("203.0.113.9", Term(Matched.IP, "203.0.113.9")),
        ("::ffff:203.0.113.9", Term(Matched.IP, "203.0.113.9")),
        ("2001:DB8:0:0::1", Term(Matched.IP, "2001:db8::1")),
        ("203.0.113.77/24", Term(Matched.NETWORK, "203.0.113.0/24")),
        ("2001:db8:5::/48", Term(Matched.NETWORK, "2001:db8:5::/48")),
        (KEY.display, Term(Matched.KEY_ID, KEY.key_id)),
        (KEY.normalised.lower(), Term(Matched.KEY_ID, KEY.key_id)),
        ("Ada@Example.COM", Term(Matched.CUSTOMER_EMAIL, "ada@example.com")),
    ],
)
def test_an_unambiguous_shape_is_read_one_way(query: str, term: Term) -> None:
    assert recognise(query) == (term,)


def test_free_text_is_a_server_name_and_a_customer_name() -> None:
    assert _kinds("mail.example.com") == [Matched.SERVER_NAME, Matched.CUSTOMER_NAME]
    assert _kinds("Ada Lovelace") == [Matched.CUSTOMER_NAME]  # a space: not a host name


def test_a_hint_shaped_word_is_also_tried_as_a_hint_in_stored_form() -> None:
    terms = recognise("smith")
    assert terms[0] == Term(Matched.KEY_HINT, "SM1TH")  # look-alike I read as 1
    assert [t.matched for t in terms[1:]] == [Matched.SERVER_NAME, Matched.CUSTOMER_NAME]
    assert Matched.KEY_HINT not in _kinds("smiths")


def test_a_key_id_shaped_word_is_also_tried_as_a_server_name() -> None:
    assert _kinds("build-server-number-01") == [
        Matched.KEY_ID,
        Matched.SERVER_NAME,
        Matched.CUSTOMER_NAME,
    ]


def test_a_mistyped_key_says_what_is_wrong_with_it() -> None:
    typo = KEY.display[:-1] + ("0" if KEY.display[-1] != "0" else "1")
    with pytest.raises(MalformedKey, match="check symbol"):
        recognise(typo)


@pytest.mark.parametrize("query", ["", "  ", "203.0.113.0/25", "10.0.0.0/8", "2001:db8::/64"])
def test_unsearchable_queries_are_refused(query: str) -> None:
    with pytest.raises(InvalidRequest):
        recognise(query)
