"""Property: whatever JSON a correctly signed client sends, the answer is never a 5xx.

Arbitrary documents as whole bodies, and the legitimate bodies with arbitrary text (any
code point: NUL, lone surrogates, controls) or arbitrary JSON in each member; the JSON
includes what a hostile client writes by hand (deep nesting, integers of thousands of
digits, numbers out of range). Every
answer is checked as its client would check it (tests/functional/hostile.py): signed and
echoing the nonce under ``/v1/instance/``, a complete problem document when it refuses.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Product
from tests.functional.hostile import BODY_TARGETS, TARGETS, Caller, make_caller
from tests.functional.instance_client import Instance


class Raw(str):
    """JSON text written as it is: what ``json.dumps`` cannot or will not write."""


# Any code point, surrogates included, with the troublesome ones drawn often.
CHARACTERS = st.sampled_from("\x00\ud800\udbff\udc00\udfff\x1f\x7f\u2028\ufeff") | st.characters(
    exclude_categories=()
)
TEXT = st.text(CHARACTERS, max_size=40)
NUMBERS = st.integers() | st.floats(allow_nan=True, allow_infinity=True)
RAW = st.one_of(
    st.integers(4000, 6000).map(lambda digits: Raw("9" * digits)),
    st.integers(10, 1500).map(lambda depth: Raw("[" * depth + "]" * depth)),
    st.sampled_from([Raw("-Infinity"), Raw("1e999"), Raw("-0"), Raw("1E-400")]),
)
DOCUMENTS = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXT | RAW,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=16,
)


def dumps(node: Any) -> str:
    if isinstance(node, Raw):
        return str(node)
    if isinstance(node, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in node.items()) + "}"
    if isinstance(node, list):
        return "[" + ",".join(dumps(item) for item in node) + "]"
    return json.dumps(node)


EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def caller(
    client: FlaskClient, session: Session, sealer: Sealer, instance: Instance, product: Product
) -> Caller:
    return make_caller(client, session, sealer, instance, product)


def answered(caller: Caller, name: str, document: Any) -> None:
    reply = caller.send(TARGETS[name], dumps(document).encode("utf-8"))
    assert reply.status < 500, reply.body


@pytest.mark.parametrize("name", BODY_TARGETS)
@EXAMPLES
@given(document=DOCUMENTS)
def test_any_document_is_answered(caller: Caller, name: str, document: Any) -> None:
    answered(caller, name, document)


@pytest.mark.parametrize("name", BODY_TARGETS)
@EXAMPLES
@given(data=st.data())
def test_any_text_in_any_member_is_answered(caller: Caller, name: str, data: st.DataObject) -> None:
    body = caller.valid_body(TARGETS[name])
    members = sorted({*body, "usage", "platform", "target_version", "activation_id"})
    changed = data.draw(
        st.dictionaries(st.sampled_from(members), TEXT | DOCUMENTS, min_size=1), label="changed"
    )
    answered(caller, name, {**body, **changed})
