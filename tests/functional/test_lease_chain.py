"""The lease chain (misuse evidence): each check-in may name the lease it holds.

The activation stores the id of the newest lease sent to it; a check-in presenting
another one that this server issued to the same activation leaves a
``lease_presentations`` row with the lease it was answered with, written with the
check-in itself (on PostgreSQL by the group commit's batch statement, on SQLite by the
check-in's writes). An id that does not verify writes nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import hash_period
from licensing.models import Activation, LeasePresentation
from licensing.privacy.pseudonymise import ip_hash, ip_network_prefix
from licensing.services import licenses
from tests.functional.instance_client import Answer, Instance, Licensed

ADDRESS = "192.0.2.44"


def jti(answer: Answer) -> str:
    claims = jwt.decode(answer.body["lease"], options={"verify_signature": False})
    value: str = claims["jti"]
    return value


def stored_jti(session: Session, instance: Instance) -> str | None:
    session.expire_all()
    return session.scalars(
        select(Activation.lease_jti).where(Activation.fingerprint == instance.fingerprint)
    ).one()


def presentations(session: Session, licensed: Licensed) -> list[LeasePresentation]:
    session.expire_all()
    return list(
        session.scalars(
            select(LeasePresentation)
            .where(LeasePresentation.license_id == licensed.license.id)
            .order_by(LeasePresentation.id)
        )
    )


@pytest.fixture
def placed(instance: Instance) -> Instance:
    """The instance, calling from a known address."""
    instance.environ["REMOTE_ADDR"] = ADDRESS
    return instance


def test_the_activation_names_the_lease_it_was_sent(
    placed: Instance, session: Session, licensed: Licensed
) -> None:
    activated = placed.activate()

    assert activated.status == 201
    assert stored_jti(session, placed) == jti(activated)
    assert presentations(session, licensed) == []


def test_activating_again_names_the_new_lease(
    placed: Instance, session: Session, licensed: Licensed
) -> None:
    first = placed.activate()
    again = placed.activate()  # the same fingerprint: the same activation, a new lease

    assert (first.status, again.status) == (201, 200)
    assert jti(first) != jti(again)
    assert stored_jti(session, placed) == jti(again)
    placed.check_in(lease_jti=jti(first))
    [row] = presentations(session, licensed)
    assert (row.presented_jti, row.newest_jti) == (jti(first), jti(again))


def test_the_newest_lease_presented_writes_nothing_and_moves_the_chain_on(
    placed: Instance, session: Session, licensed: Licensed
) -> None:
    first = placed.activate()
    second = placed.check_in(lease_jti=jti(first))
    third = placed.check_in(lease_jti=jti(second))

    assert (second.code, third.code) == ("VALID", "VALID")
    assert len({jti(first), jti(second), jti(third)}) == 3
    assert stored_jti(session, placed) == jti(third)
    assert presentations(session, licensed) == []


def test_a_superseded_lease_is_recorded_with_the_newest_and_the_network(
    placed: Instance, session: Session, licensed: Licensed, sealer: Any
) -> None:
    first = placed.activate()
    second = placed.check_in(lease_jti=jti(first))
    clone = placed.check_in(lease_jti=jti(first))  # a copy still holding the first lease
    again = placed.check_in(lease_jti=jti(first))

    [one, two] = presentations(session, licensed)
    assert (one.presented_jti, one.newest_jti) == (jti(first), jti(second))
    assert (two.presented_jti, two.newest_jti) == (jti(first), jti(clone))
    assert (one.issued_jti, two.issued_jti) == (jti(clone), jti(again))
    activation_id = session.scalars(
        select(Activation.id).where(Activation.fingerprint == placed.fingerprint)
    ).one()
    assert {one.activation_id, two.activation_id} == {activation_id}
    assert one.ip_prefix == ip_network_prefix(ADDRESS)
    assert one.ip_hash == ip_hash(sealer, ADDRESS, period=hash_period(one.at.date()))
    assert one.at is not None
    assert stored_jti(session, placed) == jti(again)


def test_an_old_client_that_names_no_lease_is_served_as_before(
    placed: Instance, session: Session, licensed: Licensed
) -> None:
    placed.activate()
    answer = placed.check_in()

    assert answer.code == "VALID"
    assert stored_jti(session, placed) == jti(answer)
    assert presentations(session, licensed) == []


def test_an_activation_from_before_the_chain_records_nothing_on_its_first_check_in(
    placed: Instance, session: Session, licensed: Licensed
) -> None:
    placed.activate()
    activation = session.scalars(
        select(Activation).where(Activation.fingerprint == placed.fingerprint)
    ).one()
    activation.lease_jti = None  # issued before the server stored lease ids
    session.flush()

    answer = placed.check_in(lease_jti="a-lease-from-before")

    assert presentations(session, licensed) == []
    assert stored_jti(session, placed) == jti(answer)


def test_an_answer_without_a_lease_keeps_the_newest_lease_sent(
    placed: Instance, session: Session, licensed: Licensed, actor: str
) -> None:
    first = jti(placed.activate())
    sent = jti(placed.check_in(lease_jti=first))
    licenses.suspend(session, licensed.license, reason="unpaid", actor=actor)
    session.flush()

    refused = placed.check_in(lease_jti=first)
    matching = placed.check_in(lease_jti=sent)

    assert (refused.code, matching.code) == ("SUSPENDED", "SUSPENDED")
    assert "lease" not in refused.body
    assert stored_jti(session, placed) == sent
    [row] = presentations(session, licensed)  # evidence is kept whatever the verdict
    assert (row.presented_jti, row.newest_jti, row.issued_jti) == (first, sent, None)


def test_a_replayed_check_in_writes_nothing(
    placed: Instance, session: Session, licensed: Licensed
) -> None:
    first = jti(placed.activate())
    sent = jti(placed.check_in(lease_jti=first))
    request = placed.signed("POST", "/v1/instance/check-ins", placed.check_in_body(lease_jti=first))
    assert placed.deliver(request).code == "VALID"
    newest = stored_jti(session, placed)

    replayed = placed.deliver(request)

    assert (replayed.status, replayed.code) == (401, "NONCE_REPLAYED")
    assert stored_jti(session, placed) == newest != sent
    assert [row.newest_jti for row in presentations(session, licensed)] == [sent]


def test_a_restricted_license_records_the_lease_but_no_network(
    placed: Instance, session: Session, licensed: Licensed
) -> None:
    licensed.license.processing_restricted = True
    session.flush()
    first = jti(placed.activate())
    placed.check_in(lease_jti=first)

    placed.check_in(lease_jti=first)

    [row] = presentations(session, licensed)
    assert row.presented_jti == first
    assert (row.ip_prefix, row.ip_hash) == (None, None)


def test_a_check_in_by_activation_id_is_chained_too(
    placed: Instance, session: Session, licensed: Licensed
) -> None:
    activated = placed.activate()
    activation_id = activated.body["activation"]["id"]
    second = placed.check_in(fingerprint=None, activation_id=activation_id)

    third = placed.check_in(fingerprint=None, activation_id=activation_id, lease_jti=jti(activated))

    [row] = presentations(session, licensed)
    assert (str(row.activation_id), row.newest_jti) == (activation_id, jti(second))
    assert row.issued_jti == jti(third)


@pytest.mark.parametrize(
    "value",
    ["", "x" * 65, "jti-\u00e9", "jti\n", "tab\there", 12345, None, ["a-jti"]],
    ids=["empty", "too-long", "non-ascii", "newline", "control", "number", "null", "list"],
)
def test_a_malformed_lease_jti_is_refused(
    placed: Instance, session: Session, licensed: Licensed, value: object
) -> None:
    placed.activate()
    newest = stored_jti(session, placed)

    answer = (
        placed.check_in(lease_jti=value)
        if value is not None
        else placed.send(
            "POST",
            "/v1/instance/check-ins",
            placed.check_in_body() | {"lease_jti": None},
        )
    )

    assert (answer.status, answer.code) == (422, "INVALID_REQUEST")
    assert "lease_jti" in answer.body["errors"]
    assert stored_jti(session, placed) == newest
    assert presentations(session, licensed) == []


def test_the_longest_printable_lease_jti_is_accepted_and_unverifiable_writes_nothing(
    placed: Instance, session: Session, licensed: Licensed
) -> None:
    placed.activate()
    longest = "~" * 64

    assert placed.check_in(lease_jti=longest).code == "VALID"
    assert presentations(session, licensed) == []


def test_issued_lease_ids_are_short_and_tagged(placed: Instance) -> None:
    issued = jti(placed.activate())

    assert len(issued) <= 64
    assert issued.count(".") == 2


@pytest.mark.parametrize(
    "made_up",
    [
        str(uuid.uuid4()),  # the shape of the ids issued before ids were tagged
        "AAAAAAAAAAAAAAAA.AAAAAAAAAAAA.AAAAAAAAAAAA",  # the tagged shape, guessed tags
        "superseded-lease",
    ],
    ids=["uuid-from-before", "forged-tag", "random"],
)
def test_a_lease_id_the_server_did_not_issue_writes_nothing(
    placed: Instance, session: Session, licensed: Licensed, made_up: str
) -> None:
    placed.activate()
    placed.check_in()

    answers = [placed.check_in(lease_jti=made_up) for _ in range(3)]

    assert {answer.code for answer in answers} == {"VALID"}
    assert presentations(session, licensed) == []
    assert stored_jti(session, placed) == jti(answers[-1])


def test_a_lease_id_issued_to_another_activation_writes_nothing(
    placed: Instance, session: Session, licensed: Licensed
) -> None:
    placed.activate()
    placed.check_in()
    other = placed.other()
    others = jti(other.activate())

    assert placed.check_in(lease_jti=others).code == "VALID"
    assert presentations(session, licensed) == []


def test_a_retry_after_its_original_records_the_lease_it_was_answered_with(
    placed: Instance, session: Session, licensed: Licensed
) -> None:
    # The original's answer was lost; the retry presents the same lease after it.
    first = jti(placed.activate())
    original = placed.check_in(lease_jti=first)
    retry = placed.check_in(lease_jti=first)
    onwards = placed.check_in(lease_jti=jti(retry))

    [row] = presentations(session, licensed)
    assert (row.presented_jti, row.newest_jti, row.issued_jti) == (
        first,
        jti(original),
        jti(retry),
    )
    assert stored_jti(session, placed) == jti(onwards)
