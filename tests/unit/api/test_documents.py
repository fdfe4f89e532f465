"""The strict JSON decoder of request bodies: its bounds, and the paths it names."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask, request

from licensing.api.documents import MAX_DEPTH, MAX_INTEGER_DIGITS, decode
from licensing.errors import InvalidRequest


def refusal(body: bytes) -> dict[str, list[str]]:
    with pytest.raises(InvalidRequest) as raised:
        decode(body)
    assert raised.value.status == 422
    return raised.value.errors


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_the_depth_limit_is_inclusive() -> None:
    assert decode(nested(MAX_DEPTH)) is not None
    assert list(refusal(nested(MAX_DEPTH + 1))) == [".".join(["0"] * MAX_DEPTH)]


def test_brackets_inside_strings_are_not_nesting() -> None:
    body = b'{"a": "' + b"[{" * 100 + b'\\"[[["}'
    assert decode(body) == {"a": "[{" * 100 + '"[[['}


def test_the_path_of_a_deep_member_names_its_members() -> None:
    body = b'{"usage": {"a": 1, "b": [1, ' + nested(40) + b"]}}"
    (name,) = refusal(body)
    assert name.startswith("usage.b.1.0.0")


def test_the_integer_limit_is_inclusive() -> None:
    assert decode(b"-" + b"9" * MAX_INTEGER_DIGITS) == -int("9" * MAX_INTEGER_DIGITS)
    assert refusal(b'{"n": [1, ' + b"9" * (MAX_INTEGER_DIGITS + 1) + b"]}") == {
        "n.1": [f"integer of more than {MAX_INTEGER_DIGITS} digits"]
    }


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (b'{"a": "x\\u0000"}', {"a": ["must not contain NUL (\\u0000)"]}),
        (
            b'{"a": {"\\udc00": 1}}',
            {
                "a.\\udc00": [
                    "member name contains a lone UTF-16 surrogate, which is not Unicode text"
                ]
            },
        ),
        (
            b'{"a": NaN, "b": 1e400}',
            {"a": ["NaN is not a JSON number"], "b": ["number out of range"]},
        ),
        (b"\xff", {"_schema": ["the body is not UTF-8 text"]}),
        (b"", {"_schema": ["not JSON: Expecting value (line 1, column 1)"]}),
    ],
    ids=["nul", "surrogate-name", "numbers", "not-utf8", "empty"],
)
def test_what_is_refused_is_named(body: bytes, errors: dict[str, list[str]]) -> None:
    assert refusal(body) == errors


@pytest.mark.parametrize(
    ("body", "document"),
    [
        (b'{"a": "\\u00e9\\ud83d\\ude00"}', {"a": "é😀"}),  # a surrogate pair is one character
        ('{"a": "é"}'.encode(), {"a": "é"}),
        (b'{"a": 1.5, "b": -0, "c": null}', {"a": 1.5, "b": 0, "c": None}),
    ],
)
def test_ordinary_documents_pass(body: bytes, document: Any) -> None:
    assert decode(body) == document


def test_request_get_json_reads_through_the_same_decoder(migrated_app: Flask) -> None:
    with (
        migrated_app.test_request_context(
            "/healthz", method="POST", data=b'{"a": "\\u0000"}', content_type="application/json"
        ),
        pytest.raises(InvalidRequest),
    ):
        request.get_json()


def _not_json(errors: dict[str, list[str]]) -> bool:
    return list(errors) == ["_schema"] and errors["_schema"][0].startswith("not JSON:")


# 64 KB bodies a hostile client writes to make the depth scan slow: quotes that open a
# string never closed, escaped quotes, brackets inside strings. The scan must stay linear.
_DEEP_AT_1 = ".".join(["1"] + ["0"] * (MAX_DEPTH - 1))
ADVERSARIAL = {
    "unclosed-string-of-escaped-quotes": (b'"' + b'\\"' * 32000 + b"[" * 17, _not_json),
    "escaped-quotes-outside-a-string": (b'\\"' * 32000 + b"[" * 17, _not_json),
    "unclosed-string-ending-in-a-backslash": (b'"' + b'\\"' * 32000 + b"[" * 17 + b"\\", _not_json),
    "unclosed-member-of-brackets-and-quotes": (b'{"a": "' + b'[\\"' * 21000, _not_json),
    "closed-strings-then-an-unclosed-one": (
        b"[" + b'"\\"[",' * 9000 + b'"' + b'\\"' * 5000,
        _not_json,
    ),
    "deep-after-a-long-string": (
        b'["' + b'\\"' * 30000 + b'", ' + nested(MAX_DEPTH + 1) + b"]",
        lambda errors: list(errors) == [_DEEP_AT_1],
    ),
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_bodies_are_refused_in_linear_time(name: str) -> None:
    body, expected = ADVERSARIAL[name]
    assert len(body) >= 60_000
    started = time.perf_counter()
    errors = refusal(body)
    elapsed = time.perf_counter() - started
    assert expected(errors), errors
    assert elapsed < 1.0, f"{elapsed:.2f} s"  # linear: milliseconds; quadratic: ~20 s


def test_brackets_inside_long_strings_are_accepted_in_linear_time() -> None:
    body = b'["' + b'[{\\"' * 16000 + b'", {"a": "' + b"]" * 1000 + b'"}]'
    started = time.perf_counter()
    document = decode(body)
    assert time.perf_counter() - started < 1.0
    assert document == ['[{"' * 16000, {"a": "]" * 1000}]
