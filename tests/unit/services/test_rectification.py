"""Rectification: the customer's fields and a server name corrected, the partners to
notify named, the request completed, the audit holding field names only."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import Conflict, InvalidRequest, NotFound
from licensing.models import PrivacyRequestKind, PrivacyRequestStatus
from licensing.services import anonymisation, rectification
from tests.factories import latest_event
from tests.unit.services.subject_seeding import NOW, Subject, open_request, seed_subject


@pytest.fixture
def ada(session: Session, sealer: Sealer) -> Subject:
    return seed_subject(
        session, sealer, name="Ada Misspelt", ip="198.51.100.7", server_name="mx.ada.example"
    )


def test_corrects_the_customer_and_a_server_name_and_names_whom_to_notify(
    session: Session, sealer: Sealer, ada: Subject
) -> None:
    request = open_request(session, PrivacyRequestKind.RECTIFICATION, ada.customer)
    done = rectification.rectify(
        session,
        request.id,
        name="Ada Lovelace",
        email="ada.lovelace@example.com",
        server_names={ada.activation.id: "mail.ada.example"},
        actor="test:pytest",
        now=NOW,
    )

    assert (ada.customer.name, ada.customer.email) == ("Ada Lovelace", "ada.lovelace@example.com")
    assert ada.activation.server_name == "mail.ada.example"
    assert done.customer_fields == ("name", "email")
    assert done.server_names == 1
    (partner,) = done.notify
    assert (partner.partner, partner.fields) == (
        ada.partner.name,
        ("status", "upgrade_protection_until"),
    )
    assert partner.last_disclosed_at is not None
    assert request.status == PrivacyRequestStatus.COMPLETED
    assert request.outcome is not None and "partners to notify: 1" in request.outcome
    rectified = [
        e
        for e in session.query(type(latest_event(session))).all()
        if e.action == rectification.RECTIFIED_ACTION
    ]
    assert rectified[-1].data["fields"] == ["name", "email"]
    text = json.dumps(rectified[-1].data)
    assert "Lovelace" not in text and "mail.ada.example" not in text


def test_another_customers_activation_is_refused_and_nothing_changes(
    session: Session, sealer: Sealer, ada: Subject
) -> None:
    bob = seed_subject(session, sealer, name="Bob", ip="203.0.113.9", server_name="mx.bob")
    request = open_request(session, PrivacyRequestKind.RECTIFICATION, ada.customer)
    with pytest.raises(NotFound):
        rectification.rectify(
            session,
            request.id,
            server_names={bob.activation.id: "stolen"},
            actor="test:pytest",
            now=NOW,
        )
    assert bob.activation.server_name == "mx.bob"
    assert request.status == PrivacyRequestStatus.OPEN


def test_nothing_to_correct_a_bad_name_and_the_wrong_kind_are_refused(
    session: Session, ada: Subject
) -> None:
    request = open_request(session, PrivacyRequestKind.RECTIFICATION, ada.customer)
    with pytest.raises(InvalidRequest):
        rectification.rectify(session, request.id, actor="t:t", now=NOW)
    with pytest.raises(InvalidRequest):
        rectification.rectify(
            session, request.id, server_names={ada.activation.id: " "}, actor="t:t", now=NOW
        )
    access = open_request(session, PrivacyRequestKind.ACCESS, ada.customer)
    with pytest.raises(Conflict):
        rectification.rectify(session, access.id, name="X", actor="t:t", now=NOW)
    with pytest.raises(NotFound):
        rectification.rectify(session, uuid.uuid4(), name="X", actor="t:t", now=NOW)


def test_an_anonymised_customer_is_refused_and_nothing_is_written_back(
    session: Session, ada: Subject
) -> None:
    anonymisation.anonymise_customer(session, ada.customer, now=NOW)
    request = open_request(session, PrivacyRequestKind.RECTIFICATION, ada.customer)
    with pytest.raises(Conflict, match=f"anonymised on {NOW.date().isoformat()}"):
        rectification.rectify(
            session,
            request.id,
            name="Ada Lovelace",
            email="ada@example.com",
            server_names={ada.activation.id: "mail.ada.example"},
            actor="t:t",
            now=NOW,
        )
    session.refresh(ada.customer)
    assert ada.customer.name == anonymisation.ANONYMISED_NAME
    assert ada.customer.email == anonymisation.placeholder_email(ada.customer)
    assert ada.activation.server_name == "mx.ada.example"
    assert request.status == PrivacyRequestStatus.OPEN


def test_a_corrected_server_name_is_stored_as_a_check_in_stores_it(
    session: Session, ada: Subject
) -> None:
    request = open_request(session, PrivacyRequestKind.RECTIFICATION, ada.customer)
    rectification.rectify(
        session,
        request.id,
        server_names={ada.activation.id: "  Mail.Ada.Example "},
        actor="test:pytest",
        now=NOW,
    )

    assert ada.activation.server_name == "mail.ada.example"
