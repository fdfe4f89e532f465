"""Check-ins (PROTOCOL.md §5): verdicts as data, usage observations, the client address."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.models import Activation, UsageObservation
from licensing.services import licenses
from licensing.services import seats as seat_rules
from licensing.storage import check_in_batches
from licensing.storage.group_commit import OutcomeUnknown
from tests.functional.instance_client import Answer, Instance, Licensed, parse_time


def observations(session: Session, licensed: Licensed) -> list[UsageObservation]:
    session.expire_all()
    return list(
        session.scalars(
            select(UsageObservation)
            .where(UsageObservation.license_id == licensed.license.id)
            .order_by(UsageObservation.id)
        )
    )


def valid(answer: Answer) -> None:
    assert (answer.status, answer.code, answer.body["valid"]) == (200, "VALID", True), answer.body
    assert isinstance(answer.body["lease"], str)


# --- naming the activation ---------------------------------------------------------------------


def test_a_check_in_by_fingerprint(instance: Instance, licensed: Licensed) -> None:
    activation_id = instance.activate().body["activation"]["id"]
    answer = instance.check_in()

    valid(answer)
    assert set(answer.body) >= {"license", "next_check_in_at", "nonce", "server_time"}
    assert answer.body["license"]["id"] == str(licensed.license.id)
    assert answer.body["license"]["activations"] == {"used": 1, "allowed": 1}
    claims = jwt.decode(answer.body["lease"], options={"verify_signature": False})
    assert (claims["act"], claims["fpr"]) == (activation_id, instance.fingerprint)
    assert parse_time(answer.body["next_check_in_at"]) - parse_time(
        answer.body["server_time"]
    ) == timedelta(hours=24)


def test_a_check_in_by_activation_id(instance: Instance) -> None:
    activation_id = instance.activate().body["activation"]["id"]
    answer = instance.check_in(fingerprint=None, activation_id=activation_id)
    valid(answer)
    claims = jwt.decode(answer.body["lease"], options={"verify_signature": False})
    assert (claims["act"], claims["fpr"]) == (activation_id, instance.fingerprint)


def test_a_check_in_naming_both(instance: Instance) -> None:
    activation_id = instance.activate().body["activation"]["id"]
    valid(instance.check_in(activation_id=activation_id))


def test_both_must_name_the_same_activation(instance: Instance) -> None:
    instance.activate()
    other = instance.other()
    other_id = other.activate().body["activation"]["id"]
    answer = instance.check_in(activation_id=other_id)
    assert (answer.status, answer.code) == (404, "NOT_ACTIVATED")


def test_a_check_in_without_a_live_activation_is_not_activated(
    instance: Instance, licensed: Licensed, session: Session
) -> None:
    answer = instance.check_in()
    assert (answer.status, answer.code) == (404, "NOT_ACTIVATED")
    unknown = instance.check_in(fingerprint=None, activation_id=str(uuid.uuid4()))
    assert (unknown.status, unknown.code) == (404, "NOT_ACTIVATED")
    assert observations(session, licensed) == []


def test_a_check_in_reports_the_seat_held_under_the_migration_allowance(
    instance: Instance,
) -> None:
    instance.activate()
    moved = instance.other().activate()
    answer = instance.check_in()
    valid(answer)
    seats = answer.body["license"]["activations"]
    assert (seats["used"], seats["allowed"]) == (2, 1)
    assert seats["migration_until"] == moved.body["license"]["activations"]["migration_until"]


def test_a_refused_check_in_reports_the_seats_its_statement_counted(
    instance: Instance,
    licensed: Licensed,
    session: Session,
    actor: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    instance.activate()
    moved = instance.other().activate()
    licenses.suspend(session, licensed.license, reason="unpaid", actor=actor)
    session.flush()

    def counted_again(*_: object, **__: object) -> int:
        raise AssertionError("the seats were counted by a separate query")

    monkeypatch.setattr(seat_rules, "in_use", counted_again)
    answer = instance.check_in()

    assert (answer.status, answer.code) == (200, "SUSPENDED")
    seats = answer.body["license"]["activations"]
    assert (seats["used"], seats["allowed"]) == (2, 1)
    assert seats["migration_until"] == moved.body["license"]["activations"]["migration_until"]


def test_a_check_in_whose_batch_may_or_may_not_be_committed_is_a_signed_internal_error(
    instance: Instance, licensed: Licensed, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("check-ins are batched on PostgreSQL only")
    instance.activate()
    before = [row.count for row in observations(session, licensed)]

    def connection_failed(*_: object, **__: object) -> None:
        raise OutcomeUnknown("the connection failed during a batch")

    monkeypatch.setattr(check_in_batches, "write_check_ins_postgresql", connection_failed)
    answer = instance.check_in()  # the helper verifies the answer's signature and nonce

    # Not NONCE_REPLAYED: the instance retries with a new request, as after any 5xx.
    assert (answer.status, answer.code) == (500, "INTERNAL_ERROR")
    assert [row.count for row in observations(session, licensed)] == before


# --- verdicts as data --------------------------------------------------------------------------


def test_a_suspended_license_answers_its_verdict_without_a_lease(
    instance: Instance, licensed: Licensed, session: Session, actor: str
) -> None:
    instance.activate()
    licenses.suspend(session, licensed.license, reason="unpaid", actor=actor)
    session.flush()

    answer = instance.check_in()

    assert answer.status == 200
    assert (answer.body["valid"], answer.code) == (False, "SUSPENDED")
    assert "lease" not in answer.body  # decision 13: absent, not null
    assert answer.body["license"]["status"] == "suspended"
    assert answer.body["license"]["activations"] == {"used": 1, "allowed": 1}
    assert "next_check_in_at" in answer.body


def test_a_suspended_license_answers_suspended_even_without_an_activation(
    instance: Instance, licensed: Licensed, session: Session, actor: str
) -> None:
    licenses.suspend(session, licensed.license, reason="unpaid", actor=actor)
    session.flush()
    answer = instance.check_in()
    assert (answer.status, answer.code, answer.body["valid"]) == (200, "SUSPENDED", False)


def test_revoked_and_expired_licenses_answer_their_verdict(
    instance: Instance, licensed: Licensed, session: Session, actor: str
) -> None:
    instance.activate()
    licensed.license.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.flush()
    expired = instance.check_in()
    assert (expired.status, expired.code, expired.body["valid"]) == (200, "EXPIRED", False)
    assert "lease" not in expired.body

    licenses.revoke(session, licensed.license, reason="fraud", actor=actor, four_eyes=False)
    session.flush()
    revoked = instance.check_in()
    assert (revoked.status, revoked.code) == (200, "REVOKED")
    assert "lease" not in revoked.body


def test_running_an_uncovered_version_answers_its_verdict(
    instance: Instance, licensed: Licensed, session: Session
) -> None:
    instance.activate(product_version="1.0.0")
    licensed.license.upgrade_protection_until = datetime(2025, 1, 1, tzinfo=UTC)
    session.flush()
    answer = instance.check_in(product_version="2.0.0")
    assert (answer.status, answer.code, answer.body["valid"]) == (200, "VERSION_NOT_COVERED", False)
    assert "lease" not in answer.body
    valid(instance.check_in(product_version="1.0.0"))


def test_the_check_in_lease_equals_the_license_object(
    instance: Instance, licensed: Licensed
) -> None:
    instance.activate()
    answer = instance.check_in()
    claims = jwt.decode(answer.body["lease"], options={"verify_signature": False})
    license = answer.body["license"]
    assert (claims["ent"], claims["lst"], claims["lexp"], claims["upg"]) == (
        license["entitlements"],
        license["status"],
        license["expires_at"],
        license["upgrade_protection_until"],
    )


# --- usage observations ------------------------------------------------------------------------


def test_check_ins_of_one_day_address_name_and_version_share_one_row(
    instance: Instance, licensed: Licensed, session: Session
) -> None:
    instance.activate(product_version="1.0.0")
    valid(instance.check_in(usage={"mailboxes": 7, "domains": 2}))
    valid(instance.check_in(usage={"mailboxes": 9, "domains": 3}))

    rows = [r for r in observations(session, licensed) if r.product_version == "2.0.0"]
    assert len(rows) == 1
    row = rows[0]
    assert row.count == 2
    assert row.usage == {"mailboxes": 9, "domains": 3}  # the latest report wins
    assert (row.ip, row.server_name) == ("127.0.0.1", instance.server_name)
    assert row.day == datetime.now(UTC).date()
    assert row.first_seen <= row.last_seen


def test_another_server_name_is_another_row(
    instance: Instance, licensed: Licensed, session: Session
) -> None:
    instance.activate()
    valid(instance.check_in())
    valid(instance.check_in(server_name="mail02.example.com"))

    rows = observations(session, licensed)
    by_name = {row.server_name: row.count for row in rows}
    # The activation reports usage too: mail01 twice, mail02 once.
    assert by_name == {"mail01.example.com": 2, "mail02.example.com": 1}
    activation = session.scalars(select(Activation)).one()
    assert activation.server_name == "mail02.example.com"


def test_a_restricted_license_leaves_no_address_and_no_server_name(
    instance: Instance, licensed: Licensed, session: Session
) -> None:
    licensed.license.processing_restricted = True
    session.flush()

    activated = instance.activate()
    checked = instance.check_in(usage={"mailboxes": 3})

    assert activated.status == 201
    assert activated.body["activation"]["server_name"] is None
    valid(checked)
    rows = observations(session, licensed)
    assert rows
    for row in rows:
        assert (row.ip, row.ip_hash, row.ip_prefix) == (None, None, None)
        assert (row.server_name, row.server_name_hash) == (None, None)
    # The product's usage counters are not needed for verification either.
    assert [row.usage for row in rows] == [{}] * len(rows)
    activation = session.scalars(
        select(Activation).where(Activation.license_id == licensed.license.id)
    ).one()
    assert activation.server_name is None


def test_x_forwarded_for_is_ignored_by_default(
    instance: Instance, licensed: Licensed, session: Session
) -> None:
    peer = instance.other(environ={"REMOTE_ADDR": "192.0.2.10"}, fingerprint=instance.fingerprint)
    signed = peer.signed("POST", "/v1/instance/activations", peer.activation_body())
    peer.deliver(signed, headers={**signed.headers, "X-Forwarded-For": "203.0.113.7"})

    assert [row.ip for row in observations(session, licensed)] == ["192.0.2.10"]


@pytest.mark.parametrize(
    ("forwarded", "recorded"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("198.51.100.1, 203.0.113.7", "203.0.113.7"),  # only the last hop is trusted
        (None, "192.0.2.10"),  # no header: the peer address
    ],
)
def test_x_forwarded_for_is_honoured_across_trusted_hops(
    proxied_app: Flask,
    licensed: Licensed,
    session: Session,
    forwarded: str | None,
    recorded: str,
) -> None:
    client: FlaskClient = proxied_app.test_client()
    behind_proxy = Instance(client=client, licensed=licensed, environ={"REMOTE_ADDR": "192.0.2.10"})
    signed = behind_proxy.signed("POST", "/v1/instance/activations", behind_proxy.activation_body())
    headers = dict(signed.headers)
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded

    answer = behind_proxy.deliver(signed, headers=headers)

    assert answer.status == 201
    assert [row.ip for row in observations(session, licensed)] == [recorded]
