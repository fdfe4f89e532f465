"""Products, releases and editions: validation, uniqueness, and an audit event for each."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from licensing.errors import Conflict, InvalidRequest, NotFound
from licensing.services import catalog
from licensing.services.catalog import EditionPolicy
from tests.factories import latest_event, make_edition, make_product, make_release

RELEASED = datetime(2025, 2, 1, tzinfo=UTC)


def test_add_product_is_audited(session: Session, actor: str) -> None:
    product = catalog.add_product(session, code="mailserver", name="  Mail Server ", actor=actor)

    assert catalog.get_product(session, "mailserver") == product
    assert product.name == "Mail Server"
    event = latest_event(session)
    assert (event.action, event.actor, event.subject_id) == (
        "product.added",
        actor,
        str(product.id),
    )
    assert event.data == {"code": "mailserver"}


def test_a_duplicate_product_code_conflicts(session: Session, actor: str) -> None:
    make_product(session, code="mailserver")
    with pytest.raises(Conflict, match="already exists"):
        catalog.add_product(session, code="mailserver", name="Again", actor=actor)


@pytest.mark.parametrize("code", ["", "Mail", "-mail", "mail server", "mail/server", "x" * 65])
def test_a_bad_product_code_is_invalid(session: Session, actor: str, code: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        catalog.add_product(session, code=code, name="Mail", actor=actor)
    assert set(raised.value.errors) == {"code"}


def test_an_empty_product_name_is_invalid(session: Session, actor: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        catalog.add_product(session, code="mail", name="  ", actor=actor)
    assert set(raised.value.errors) == {"name"}


def test_unknown_products_are_not_found(session: Session, actor: str) -> None:
    with pytest.raises(NotFound, match="nosuch"):
        catalog.get_product(session, "nosuch")
    with pytest.raises(NotFound):
        catalog.add_release(
            session, product_code="nosuch", version="1.0", released_at=RELEASED, actor=actor
        )
    with pytest.raises(NotFound):
        catalog.add_edition(
            session, product_code="nosuch", code="std", name="", policy=EditionPolicy(), actor=actor
        )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("2.0.0-rc.1", "2.0.0rc1"), ("v1.4", "1.4"), ("1.4+build.7", "1.4+build.7"), (" 3 ", "3")],
)
def test_release_versions_are_normalised_by_pep_440(
    session: Session, actor: str, typed: str, stored: str
) -> None:
    product = make_product(session)
    release = catalog.add_release(
        session, product_code=product.code, version=typed, released_at=RELEASED, actor=actor
    )
    assert release.version == stored
    event = latest_event(session)
    assert (event.action, event.subject_id) == ("release.added", str(release.id))
    assert event.data == {"product": product.code, "version": stored}


def test_the_same_version_spelled_differently_conflicts(session: Session, actor: str) -> None:
    product = make_product(session)
    make_release(session, product=product, version="2.0.0-rc.1")
    with pytest.raises(Conflict, match="already released"):
        catalog.add_release(
            session,
            product_code=product.code,
            version="2.0.0rc1",
            released_at=RELEASED,
            actor=actor,
        )


@pytest.mark.parametrize("version", ["banana", "1.0.0.beta.x", ""])
def test_a_bad_version_is_invalid(session: Session, actor: str, version: str) -> None:
    product = make_product(session)
    with pytest.raises(InvalidRequest) as raised:
        catalog.add_release(
            session, product_code=product.code, version=version, released_at=RELEASED, actor=actor
        )
    assert set(raised.value.errors) == {"version"}


def test_releases_are_listed_by_date(session: Session) -> None:
    product = make_product(session)
    late = make_release(session, product=product, released_at=datetime(2025, 6, 1, tzinfo=UTC))
    early = make_release(session, product=product, released_at=datetime(2024, 6, 1, tzinfo=UTC))
    listed = catalog.list_releases(session, product.code)
    assert [(r.version, r.released_at) for r in listed] == [
        (early.version, early.released_at),
        (late.version, late.released_at),
    ]


def test_an_edition_stores_its_policy_and_is_audited(session: Session, actor: str) -> None:
    product = make_product(session)
    policy = EditionPolicy(max_activations=3, term_days=365, entitlements=("smtp", "imap", "smtp"))
    edition = catalog.add_edition(
        session, product_code=product.code, code="pro", name="", policy=policy, actor=actor
    )

    assert catalog.get_edition(session, product.code, "pro") == edition
    assert (edition.name, edition.max_activations, edition.term_days) == ("pro", 3, 365)
    assert edition.entitlements == ["smtp", "imap"]
    assert (edition.migration_window_days, edition.upgrade_protection_months) == (30, 12)
    event = latest_event(session)
    assert (event.action, event.subject_id) == ("edition.added", str(edition.id))


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (EditionPolicy(max_activations=0), "max_activations"),
        (EditionPolicy(check_in_interval_seconds=59), "check_in_interval_seconds"),
        (EditionPolicy(dead_after_intervals=0), "dead_after_intervals"),
        (EditionPolicy(offline_grace_days=0), "offline_grace_days"),
        (EditionPolicy(migration_window_days=-1), "migration_window_days"),
        (EditionPolicy(upgrade_protection_months=-1), "upgrade_protection_months"),
        (EditionPolicy(term_days=0), "term_days"),
        (EditionPolicy(entitlements=("ok", "Not OK")), "entitlements"),
    ],
)
def test_an_edition_policy_out_of_range_is_invalid(
    session: Session, actor: str, policy: EditionPolicy, field: str
) -> None:
    product = make_product(session)
    with pytest.raises(InvalidRequest, match=field) as raised:
        catalog.add_edition(
            session, product_code=product.code, code="std", name="", policy=policy, actor=actor
        )
    assert set(raised.value.errors) == {field}


def test_a_duplicate_edition_code_conflicts_within_a_product_only(
    session: Session, actor: str
) -> None:
    product, other = make_product(session), make_product(session)
    make_edition(session, product=product, code="std")
    make_edition(session, product=other, code="std")
    with pytest.raises(Conflict):
        catalog.add_edition(
            session,
            product_code=product.code,
            code="std",
            name="",
            policy=EditionPolicy(),
            actor=actor,
        )


def test_an_unknown_edition_is_not_found(session: Session) -> None:
    product = make_product(session)
    with pytest.raises(NotFound, match="no edition 'gold'"):
        catalog.get_edition(session, product.code, "gold")
