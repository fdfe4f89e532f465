"""Server names are one name whatever their case (host names are case-insensitive,
RFC 4343): check-ins store and hash them lower-cased, and both searches find them by
any spelling, raw and after pseudonymisation."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Activation, StaffUser, UsageObservation
from licensing.privacy.pseudonymise import SERVER_NAME_HASH_PURPOSE, server_name_hashes
from licensing.services import staff as accounts
from licensing.services import staff_search, subject_search
from licensing.services.check_ins import server_name_as_stored
from licensing.services.hash_key_periods import stored_period_keys
from licensing.services.staff_search_terms import Matched
from licensing.timeutil import utcnow
from tests.functional.instance_client import Instance, Licensed

REPORTED = "MX.Bea.Example"
SPELLINGS = ("mx.bea.example", "MX.BEA.EXAMPLE", REPORTED)


@pytest.fixture
def mixed_case(instance: Instance) -> Instance:
    """An instance reporting its server name in mixed case, activated and checked in."""
    bea = instance.other(server_name=REPORTED)
    activated = bea.activate()
    assert activated.status == 201
    assert activated.body["activation"]["server_name"] == "mx.bea.example"
    assert bea.check_in().code == "VALID"
    return bea


@pytest.fixture
def analyst(session: Session) -> StaffUser:
    return accounts.add_staff(
        session,
        email=f"analyst.{uuid.uuid4().hex[:6]}@example.org",
        display_name="Analyst",
        role="analyst",
        password="a long enough passphrase",
        actor="test:pytest",
    )


def _observations(session: Session, licensed: Licensed) -> list[UsageObservation]:
    session.expire_all()
    return list(
        session.scalars(
            select(UsageObservation).where(UsageObservation.license_id == licensed.license.id)
        )
    )


def test_check_ins_store_and_hash_the_name_lower_cased(
    mixed_case: Instance, licensed: Licensed, session: Session, sealer: Sealer
) -> None:
    # The same server reporting another spelling is the same observation, not a second.
    assert mixed_case.check_in(server_name="mx.BEA.example").code == "VALID"

    [observed] = _observations(session, licensed)
    assert (observed.server_name, observed.count) == ("mx.bea.example", 3)
    held = stored_period_keys(session, SERVER_NAME_HASH_PURPOSE)
    assert observed.server_name_hash in server_name_hashes(sealer, "mx.bea.example", held)
    activation = session.scalars(
        select(Activation).where(Activation.license_id == licensed.license.id)
    ).one()
    assert activation.server_name == "mx.bea.example"


@pytest.mark.parametrize("query", SPELLINGS)
def test_subject_search_finds_it_by_any_spelling(
    mixed_case: Instance, licensed: Licensed, session: Session, sealer: Sealer, query: str
) -> None:
    found = subject_search.search(session, sealer, query, actor="test:pytest", now=utcnow())

    [subject] = found.subjects
    assert subject.customer_id == licensed.license.customer_id
    assert dict(subject.tables) == {"activations": 1, "usage_observations": 1}


@pytest.mark.parametrize("query", SPELLINGS)
def test_staff_search_finds_it_by_any_spelling(
    mixed_case: Instance,
    licensed: Licensed,
    session: Session,
    sealer: Sealer,
    analyst: StaffUser,
    query: str,
) -> None:
    found = staff_search.search(session, sealer, query, staff=analyst, now=utcnow())

    by_name = [hit for hit in found.hits if hit.matched is Matched.SERVER_NAME]
    assert [hit.license_id for hit in by_name] == [licensed.license.id]


@pytest.mark.parametrize("query", SPELLINGS)
def test_after_pseudonymisation_the_hash_finds_it_by_any_spelling(
    mixed_case: Instance,
    licensed: Licensed,
    session: Session,
    sealer: Sealer,
    analyst: StaffUser,
    query: str,
) -> None:
    # What retention leaves: the hash only, and an activation that reports a new name.
    session.query(UsageObservation).update({"server_name": None})
    session.query(Activation).update({"server_name": "renamed.example"})
    session.flush()

    [subject] = subject_search.search(
        session, sealer, query, actor="test:pytest", now=utcnow()
    ).subjects
    assert dict(subject.tables) == {"usage_observations": 1}
    hits = staff_search.search(session, sealer, query, staff=analyst, now=utcnow()).hits
    assert [h.license_id for h in hits if h.matched is Matched.SERVER_NAME] == [licensed.license.id]


def test_only_ascii_letters_are_folded() -> None:
    # Unicode lower-casing would lengthen this name past 253 characters, and merge the
    # Kelvin sign with "k"; host names fold ASCII letters only (RFC 4343).
    long_name = "İ" + "a" * 252
    assert server_name_as_stored(long_name) == long_name
    assert server_name_as_stored("\u212aB.Example") == "\u212ab.example"
    assert server_name_as_stored("MX.Bea.Example") == "mx.bea.example"
