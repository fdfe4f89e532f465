"""Every instance answer sent has the shape its OpenAPI schema documents (PROTOCOL.md §5).

The bodies are built beside their schemas in ``licensing.schemas.instance`` (problems by
``licensing.api.problems``); loading a sent body through its schema, strictly (no
unknown member, every required one present, every value of its type), holds the
builder and the documented shape to one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from marshmallow import Schema, ValidationError
from sqlalchemy.orm import Session

from licensing.schemas import instance as schemas
from licensing.services import licenses
from tests.functional.instance_client import Answer, Instance, Licensed


def _checked_in(i: Instance, licensed: Licensed, session: Session, actor: str) -> Answer:
    i.activate()
    return i.check_in()


def _moved(i: Instance, licensed: Licensed, session: Session, actor: str) -> Answer:
    i.activate()
    i.other().activate()  # a seat held under the migration allowance
    return i.check_in()


def _suspended(i: Instance, licensed: Licensed, session: Session, actor: str) -> Answer:
    i.activate()
    licenses.suspend(session, licensed.license, reason="unpaid", actor=actor)
    session.flush()
    return i.check_in()


def _deactivated(i: Instance, licensed: Licensed, session: Session, actor: str) -> Answer:
    return i.deactivate(i.activate().body["activation"]["id"])


def _activated_again(i: Instance, licensed: Licensed, session: Session, actor: str) -> Answer:
    i.activate()
    return i.activate()


Produce = Callable[[Instance, Licensed, Session, str], Answer]
ANSWERS: dict[str, tuple[Produce, int, type[Schema]]] = {
    "activated": (lambda i, *_: i.activate(), 201, schemas.ActivationAnswer),
    "activated-again": (_activated_again, 200, schemas.ActivationAnswer),
    "checked-in": (_checked_in, 200, schemas.CheckInAnswer),
    "checked-in-migrating": (_moved, 200, schemas.CheckInAnswer),
    "verdict": (_suspended, 200, schemas.CheckInAnswer),
    "deactivated": (_deactivated, 200, schemas.DeactivationAnswer),
    "refused": (
        lambda i, *_: i.activate(product="another-product"),
        403,
        schemas.InstanceProblemSchema,
    ),
    "not-activated": (lambda i, *_: i.check_in(), 404, schemas.InstanceProblemSchema),
    "signature-rejected": (
        lambda i, *_: i.activate(sign_options={"secret": b"\x00" * 32}),
        401,
        schemas.InstanceProblemSchema,
    ),
    "invalid": (lambda i, *_: i.activate(colour="blue"), 422, schemas.InstanceProblemSchema),
}


def _documented(schema: type[Schema], body: dict[str, Any]) -> dict[str, Any]:
    try:
        return dict(schema().load(body))
    except ValidationError as error:
        raise AssertionError(f"{schema.__name__} does not document {body}: {error}") from None


@pytest.mark.parametrize("case", ANSWERS)
def test_the_answer_sent_is_the_answer_documented(
    instance: Instance, licensed: Licensed, session: Session, actor: str, case: str
) -> None:
    produce, status, schema = ANSWERS[case]
    answer = produce(instance, licensed, session, actor)
    assert answer.status == status, answer.body
    _documented(schema, answer.body)


def test_an_undocumented_member_fails_the_check(instance: Instance) -> None:
    body = instance.activate().body | {"colour": "blue"}
    with pytest.raises(AssertionError, match="does not document"):
        _documented(schemas.ActivationAnswer, body)
