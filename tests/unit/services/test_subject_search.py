"""Finding a data subject: by e-mail, key, key id, server name or IP, raw or pseudonymised;
per customer the tables with matching rows; audited without the query."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import InvalidRequest
from licensing.models import Activation, UsageObservation
from licensing.services import subject_search
from licensing.services.staff_search_terms import Matched
from tests.factories import latest_event, make_license
from tests.unit.services.subject_seeding import NOW, Subject, seed_subject


@pytest.fixture
def ada(session: Session, sealer: Sealer) -> Subject:
    return seed_subject(
        session, sealer, name="Ada Searched", ip="198.51.100.7", server_name="mx.ada.example"
    )


@pytest.fixture
def bob(session: Session, sealer: Sealer) -> Subject:
    return seed_subject(
        session, sealer, name="Bob Other", ip="203.0.113.9", server_name="mx.bob.example"
    )


def _search(session: Session, sealer: Sealer, query: str) -> subject_search.SubjectSearch:
    return subject_search.search(session, sealer, query, actor="test:pytest", now=NOW)


def _tables(result: subject_search.SubjectSearch) -> dict[str, int]:
    (subject,) = result.subjects
    return dict(subject.tables)


def test_by_email_in_any_case(session: Session, sealer: Sealer, ada: Subject, bob: Subject) -> None:
    result = _search(session, sealer, ada.customer.email.upper())
    assert [s.customer_id for s in result.subjects] == [ada.customer.id]
    assert _tables(result) == {"customers": 1}


def test_by_full_license_key_and_by_key_id(
    session: Session, sealer: Sealer, ada: Subject, bob: Subject
) -> None:
    issued = make_license(session, sealer, customer=ada.customer)
    by_key = _search(session, sealer, issued.key.display)
    by_id = _search(session, sealer, ada.license.key_id)
    assert by_key.readings == (Matched.KEY_ID,)
    assert [s.customer_id for s in by_key.subjects] == [ada.customer.id]
    assert [s.customer_id for s in by_id.subjects] == [ada.customer.id]
    assert _tables(by_id)["licenses"] == 1


def test_by_ip_raw_and_after_pseudonymisation(
    session: Session, sealer: Sealer, ada: Subject, bob: Subject
) -> None:
    assert _tables(_search(session, sealer, ada.ip)) == {
        "lease_presentations": 1,
        "usage_observations": 2,
    }
    # Retention clears the raw values: the keyed hashes still find the subject.
    session.query(UsageObservation).update({"ip": None, "server_name": None})
    assert _tables(_search(session, sealer, ada.ip))["usage_observations"] == 2


def test_by_server_name_in_activations_and_usage_whatever_its_case(
    session: Session, sealer: Sealer, ada: Subject, bob: Subject
) -> None:
    result = _search(session, sealer, "MX.Ada.Example".lower())
    assert _tables(result) == {"activations": 1, "usage_observations": 2}
    session.query(UsageObservation).update({"server_name": None})
    session.query(Activation).update({"server_name": None})
    assert _tables(_search(session, sealer, ada.server_name)) == {"usage_observations": 2}


def test_a_server_name_stored_before_lower_casing_is_found_in_any_case(
    session: Session, sealer: Sealer, bob: Subject
) -> None:
    # Rows written before check-ins lower-cased the name keep the instance's spelling.
    seed_subject(session, sealer, name="Bea Case", ip="198.51.100.10", server_name="MX.Bea.Example")

    for query in ("mx.bea.example", "MX.BEA.EXAMPLE"):
        # The raw rows in any case; the old hash only by the spelling it was made of.
        assert _tables(_search(session, sealer, query)) == {
            "activations": 1,
            "usage_observations": 1,
        }
    assert _tables(_search(session, sealer, "MX.Bea.Example"))["usage_observations"] == 2


def test_nobody_found_and_a_network_is_not_a_subject(
    session: Session, sealer: Sealer, ada: Subject
) -> None:
    assert _search(session, sealer, "192.0.2.1").subjects == ()
    assert _search(session, sealer, "198.51.100.0/24").subjects == ()
    with pytest.raises(InvalidRequest):
        _search(session, sealer, "   ")


def test_audited_by_kinds_and_counts_never_the_query(
    session: Session, sealer: Sealer, ada: Subject
) -> None:
    _search(session, sealer, ada.ip)
    event = latest_event(session)
    assert event.action == subject_search.SEARCHED_ACTION
    assert event.data == {"readings": ["ip"], "customers": 1, "rows": 3}
    text = json.dumps(event.data)
    assert ada.ip not in text and sealer.keyed_hash("ip", ada.ip.encode()).hex() not in text
