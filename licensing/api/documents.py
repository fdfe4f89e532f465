"""The one strict reading of a JSON request body: a document or a 422 naming the member.

Python's ``json`` accepts more than a server may hand to its schemas and its database:
documents nested deep enough to exhaust the interpreter's stack, integer literals that
``int`` refuses to convert (or takes long to), ``NaN``/``Infinity``, and ``\\u`` escapes
that decode to a NUL (which PostgreSQL refuses and SQLite stores) or to a lone UTF-16
surrogate (which no database encoding accepts). Each is refused here with the JSON path
of the offending member, so no view, schema or driver ever meets one.

The common body costs next to nothing beyond ``json.loads``: the depth is scanned only
when the body holds more brackets than the limit, and strings are walked only when the
body holds a ``\\u`` escape (nothing else can produce a NUL or a surrogate: raw control
characters are invalid JSON, raw surrogates invalid UTF-8).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from licensing.errors import InvalidRequest

MAX_DEPTH = 16
MAX_INTEGER_DIGITS = 64
# A JSON string (escapes included) or one structural character: enough to follow nesting.
# A string token ends at its closing quote or at the end of the text, so every match
# succeeds where it starts: an unclosed string is one token to the end, never a failed
# match retried from each quote inside it (which made the scan quadratic in the body).
# Possessive quantifiers: nothing is ever given back, so no input can make it backtrack.
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.?)*+(?:"|\Z)|[{}\[\],:]', re.DOTALL)
_ROOT = "_schema"


class _Refused:
    """A literal the scanner read but that the document may not carry (found by the walk)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _LiteralRefused(Exception):
    """Raised by the fast decoder; the slow one then finds where the literal was."""


def _integer(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _LiteralRefused
    return int(literal)


def _number(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _LiteralRefused
    return value


def _constant(literal: str) -> Any:
    raise _LiteralRefused


def _marked_integer(literal: str) -> int | _Refused:
    if len(literal.lstrip("-")) > MAX_INTEGER_DIGITS:
        return _Refused(f"integer of more than {MAX_INTEGER_DIGITS} digits")
    return int(literal)


def _marked_number(literal: str) -> float | _Refused:
    value = float(literal)
    return value if math.isfinite(value) else _Refused("number out of range")


def _marked_constant(literal: str) -> _Refused:
    return _Refused(f"{literal} is not a JSON number")


_FAST = json.JSONDecoder(parse_int=_integer, parse_float=_number, parse_constant=_constant)
_MARKING = json.JSONDecoder(
    parse_int=_marked_integer, parse_float=_marked_number, parse_constant=_marked_constant
)


def decode(body: bytes) -> Any:
    """The JSON document of a request body; InvalidRequest (422) naming what is refused."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid({_ROOT: ["the body is not UTF-8 text"]}) from None
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH:
        deep = _too_deep(text)
        if deep is not None:
            raise _invalid({deep: [f"nested more than {MAX_DEPTH} levels deep"]})
    try:
        document = _FAST.decode(text)
        marked = False
    except _LiteralRefused:
        document, marked = _decode(_MARKING, text), True
    except json.JSONDecodeError as exc:
        raise _not_json(exc) from None
    if marked or "\\u" in text:
        problems: dict[str, list[str]] = {}
        _walk(document, [], problems)
        if problems:
            raise _invalid(problems)
    return document


def text_problem(value: str) -> str | None:
    """Why a string may not be stored, if it may not: a NUL, or a lone surrogate."""
    if "\x00" in value:
        return "must not contain NUL (\\u0000)"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone UTF-16 surrogate, which is not Unicode text"
    return None


def _decode(decoder: json.JSONDecoder, text: str) -> Any:
    try:
        return decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise _not_json(exc) from None


def _not_json(exc: json.JSONDecodeError) -> InvalidRequest:
    return _invalid({_ROOT: [f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"]})


def _invalid(problems: dict[str, list[str]]) -> InvalidRequest:
    return InvalidRequest("The request body was refused; see errors.", errors=problems)


def _walk(node: Any, path: list[str], problems: dict[str, list[str]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            member = [*path, _segment(key)]
            reason = text_problem(key)
            if reason is not None:
                problems.setdefault(_name(member), []).append("member name " + reason)
            _walk(value, member, problems)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _walk(item, [*path, str(index)], problems)
    elif isinstance(node, str):
        reason = text_problem(node)
        if reason is not None:
            problems.setdefault(_name(path), []).append(reason)
    elif isinstance(node, _Refused):
        problems.setdefault(_name(path), []).append(node.reason)


def _segment(key: str) -> str:
    # A member name as JSON spells it: a NUL or surrogate in a name stays readable ASCII.
    return json.dumps(key)[1:-1]


def _name(path: list[str]) -> str:
    return ".".join(path) if path else _ROOT


def _too_deep(text: str) -> str | None:
    """The path of the first container nested past MAX_DEPTH, if any (never recursive)."""
    # One frame per open container: [is_object, current member name or index].
    frames: list[list[Any]] = []
    expecting_name = False
    for match in _TOKEN.finditer(text):
        token = match.group()
        first = token[0]
        if first == '"':
            if expecting_name and frames:
                frames[-1][1] = _segment(_loose_string(token))
                expecting_name = False
        elif first in "{[":
            if len(frames) == MAX_DEPTH:
                return _name([str(frame[1]) for frame in frames])
            frames.append([first == "{", 0])
            expecting_name = first == "{"
        elif first in "}]":
            if not frames:
                return None  # not JSON: the decoder says so
            frames.pop()
            expecting_name = False
        elif first == "," and frames:
            if frames[-1][0]:
                expecting_name = True
            else:
                frames[-1][1] += 1
    return None


def _loose_string(token: str) -> str:
    try:
        value = json.loads(token)
    except ValueError:
        return token[1:-1]
    return value if isinstance(value, str) else token[1:-1]
