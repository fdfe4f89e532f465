"""Malformed instance bodies (PROTOCOL.md §5, §7): 422 INVALID_REQUEST with flat errors."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.models import Activation, UsageObservation
from tests.functional.instance_client import Answer, Instance

COUNTERS_33 = {f"c{n}": n for n in range(33)}
COUNTERS_32 = {f"c{n}": n for n in range(32)}


def invalid(answer: Answer, field: str) -> dict[str, list[str]]:
    assert (answer.status, answer.code) == (422, "INVALID_REQUEST"), answer.body
    errors = answer.body["errors"]
    # Flat: field name -> list of messages, never nested by location or field.
    assert isinstance(errors, dict)
    for name, messages in errors.items():
        assert isinstance(name, str)
        assert name not in ("json", "query", "headers")
        assert isinstance(messages, list)
        assert messages
        assert all(isinstance(m, str) for m in messages)
    assert field in errors, errors
    return errors


def nothing_written(session: Session) -> None:
    assert session.scalar(select(func.count()).select_from(Activation)) == 0
    assert session.scalar(select(func.count()).select_from(UsageObservation)) == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"colour": "blue"}, "colour"),  # unknown field
        ({"usage": COUNTERS_33}, "usage"),
        ({"usage": {"mailboxes": -1}}, "usage"),
        ({"usage": {"mailboxes": True}}, "usage"),
        ({"usage": {"mailboxes": 1.5}}, "usage"),
        ({"usage": {"mailboxes": "12"}}, "usage"),
        ({"usage": {"mailboxes": 2**63}}, "usage"),
        ({"usage": {"Mailboxes": 1}}, "usage"),
        ({"usage": {"mail-boxes": 1}}, "usage"),
        ({"usage": {"m" * 65: 1}}, "usage"),
        ({"usage": [1, 2]}, "usage"),
        ({"product_version": "banana"}, "product_version"),
        ({"product_version": "1.2.3.x"}, "product_version"),
        ({"fingerprint": "x" * 15}, "fingerprint"),
        ({"fingerprint": "x" * 129}, "fingerprint"),
        ({"fingerprint": "fingerprint\u00e9-0123456"}, "fingerprint"),
        ({"fingerprint": "fingerprint\n0123456789"}, "fingerprint"),
        ({"server_name": ""}, "server_name"),
        ({"server_name": "s" * 254}, "server_name"),
        ({"platform": "p" * 65}, "platform"),
        ({"product": None}, "product"),  # missing
        ({"server_name": None}, "server_name"),  # missing
    ],
    ids=lambda value: str(value)[:40] if isinstance(value, dict) else str(value),
)
def test_an_invalid_activation_is_422(
    instance: Instance, session: Session, changes: dict[str, Any], field: str
) -> None:
    invalid(instance.activate(**changes), field)
    nothing_written(session)


def test_several_problems_are_reported_together(instance: Instance) -> None:
    errors = invalid(
        instance.activate(colour="blue", product_version="banana", usage={"X": -1}), "colour"
    )
    assert {"colour", "product_version", "usage"} <= set(errors)


@pytest.mark.parametrize(
    "usage",
    [COUNTERS_32, {"mailboxes": 0}, {"m" * 64: 2**63 - 1}, {}],
    ids=["32-counters", "zero", "longest-name-largest-value", "empty"],
)
def test_valid_usage_counters_are_accepted(instance: Instance, usage: dict[str, int]) -> None:
    assert instance.activate(usage=usage).status == 201


@pytest.mark.parametrize(
    "version", ["2.0.0", "2.0", "2.0.0-rc.1", "1.4+build.7", "1!0.1", "2.0.0.post1.dev3"]
)
def test_pep_440_and_semver_versions_are_accepted(
    instance: Instance, session: Session, version: str
) -> None:
    # No end to upgrade protection: every version is covered, only the syntax counts.
    instance.licensed.license.upgrade_protection_until = None
    session.flush()
    assert instance.activate(product_version=version).status == 201


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"colour": "blue"}, "colour"),
        ({"fingerprint": None}, "activation_id"),  # names no activation at all
        ({"activation_id": "not-a-uuid"}, "activation_id"),
        ({"product": "x"}, "product"),  # a field of activations only
        ({"product_version": "banana"}, "product_version"),
        ({"usage": {"mailboxes": -3}}, "usage"),
        ({"fingerprint": "short"}, "fingerprint"),
        ({"server_name": None}, "server_name"),
    ],
    ids=lambda value: str(value)[:40] if isinstance(value, dict) else str(value),
)
def test_an_invalid_check_in_is_422(
    instance: Instance, changes: dict[str, Any], field: str
) -> None:
    instance.activate()
    invalid(instance.check_in(**changes), field)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b""])
def test_a_body_that_is_not_a_json_object_is_422(instance: Instance, body: bytes) -> None:
    answer = instance.send("POST", "/v1/instance/activations", body)
    assert (answer.status, answer.code) == (422, "INVALID_REQUEST"), answer.body
    assert isinstance(answer.body["errors"], dict)
    assert all(isinstance(v, list) for v in answer.body["errors"].values())
