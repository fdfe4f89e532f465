"""Staff search on the database: every kind of query, raw and pseudonymised usage rows,
and hits that echo nothing but the query."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer, hash_period
from licensing.errors import InvalidRequest, MalformedKey
from licensing.models import Activation, AuditEvent, License, StaffUser, UsageObservation
from licensing.privacy.pseudonymise import ip_hash, server_name_hash
from licensing.services import staff as accounts
from licensing.services import staff_search
from licensing.services.check_ins import record_check_in
from licensing.services.instance_reports import CheckIn
from licensing.services.licenses import IssuedLicense
from licensing.services.staff_search import Matched, SearchResult
from tests.factories import make_customer, make_license

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
RAW_SERVER = "mail-7.example.net"
RAW_IP = "203.0.113.9"
OLD_SERVER = "old-box.example.org"  # only its keyed hash is left
OLD_IP = "198.51.100.23"
V6_IP = "2001:db8:1:2::5"


def _seat(session: Session, license: License, server_name: str | None) -> Activation:
    activation = Activation(
        license_id=license.id,
        fingerprint=uuid.uuid4().hex,
        server_name=server_name,
        product_version="2.0.0",
        activated_at=NOW - 90 * DAY,
        last_check_in_at=NOW - 40 * DAY,
    )
    session.add(activation)
    session.flush()
    return activation


def _checked_in(
    session: Session, sealer: Sealer, license: License, *, ip: str, server: str
) -> None:
    """A check-in written by the check-in path itself: what search must find."""
    activation = _seat(session, license, server)
    report = CheckIn(
        activation_id=activation.id,
        fingerprint=None,
        server_name=server,
        product_version="2.0.0",
        usage={},
        ip=ip,
    )
    record_check_in(
        session, sealer, license_id=license.id, processing_restricted=False, report=report, now=NOW
    )


def _pseudonymised(session: Session, sealer: Sealer, license: License) -> None:
    """A day's row as the retention job leaves it: hashes and prefix, no raw values; the
    activation now reports a new name, so only the hash can find the old one."""
    activation = _seat(session, license, "new-box.example.org")
    OLD_PERIOD = hash_period((NOW - 40 * DAY).date())  # noqa: N806
    session.add(
        UsageObservation(
            activation_id=activation.id,
            license_id=license.id,
            day=(NOW - 40 * DAY).date(),
            observation_key=sealer.period_keyed_hash("observation", OLD_PERIOD, b"old"),
            ip=None,
            ip_hash=ip_hash(sealer, OLD_IP, period=OLD_PERIOD),
            ip_prefix="198.51.100.0/24",
            server_name=None,
            server_name_hash=server_name_hash(sealer, OLD_SERVER, period=OLD_PERIOD),
            product_version="2.0.0",
            first_seen=NOW - 40 * DAY,
            last_seen=NOW - 40 * DAY,
            pseudonymised_at=NOW - 10 * DAY,
        )
    )
    session.flush()


@dataclasses.dataclass
class Fleet:
    ada: IssuedLicense
    pseudonymised: IssuedLicense
    ipv6: IssuedLicense
    bystander: IssuedLicense


@pytest.fixture
def fleet(session: Session, sealer: Sealer) -> Fleet:
    ada = make_license(
        session,
        sealer,
        customer=make_customer(session, name="Ada Lovelace", email="Ada.Search@Example.com"),
    )
    _checked_in(session, sealer, ada.license, ip=RAW_IP, server=RAW_SERVER)
    old = make_license(session, sealer, customer=make_customer(session, name="Charles Babbage"))
    _pseudonymised(session, sealer, old.license)
    ipv6 = make_license(session, sealer, customer=make_customer(session, name="Grace Hopper"))
    _checked_in(session, sealer, ipv6.license, ip=V6_IP, server="edge.example.com")
    bystander = make_license(session, sealer, customer=make_customer(session, name="Alan Turing"))
    _checked_in(session, sealer, bystander.license, ip="192.0.2.1", server="other.example.com")
    return Fleet(ada, old, ipv6, bystander)


def _staff(session: Session, role: str) -> StaffUser:
    return accounts.add_staff(
        session,
        email=f"{role}.{uuid.uuid4().hex[:6]}@example.org",
        display_name=role.title(),
        role=role,
        password="a long enough passphrase",
        actor="test:pytest",
    )


def search(
    session: Session, sealer: Sealer, query: str, *, role: str = "analyst", limit: int = 50
) -> SearchResult:
    staff = _staff(session, role)
    return staff_search.search(session, sealer, query, staff=staff, now=NOW, limit=limit)


def _usage_searches(session: Session) -> list[AuditEvent]:
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.action == "staff.searched_usage"))
    )


def _found(result: SearchResult, matched: Matched) -> list[uuid.UUID]:
    return [hit.license_id for hit in result.hits if hit.matched is matched]


def test_a_full_key_in_any_spelling_finds_its_license(
    session: Session, sealer: Sealer, fleet: Fleet
) -> None:
    typed = fleet.ada.key.display.lower().replace("1", "l")  # look-alikes as a person types
    result = search(session, sealer, f"  {typed} ")
    assert [term.matched for term in result.terms] == [Matched.KEY_ID]
    assert _found(result, Matched.KEY_ID) == [fleet.ada.license.id]
    assert result.hits[0].key_id == fleet.ada.license.key_id


def test_a_key_id_and_a_key_hint_find_their_license(
    session: Session, sealer: Sealer, fleet: Fleet
) -> None:
    by_id = search(session, sealer, fleet.ada.license.key_id)
    assert _found(by_id, Matched.KEY_ID) == [fleet.ada.license.id]
    by_hint = search(session, sealer, fleet.ada.license.key_hint.lower())
    assert _found(by_hint, Matched.KEY_HINT) == [fleet.ada.license.id]


def test_a_customer_is_found_by_part_of_the_name_and_by_the_whole_address(
    session: Session, sealer: Sealer, fleet: Fleet
) -> None:
    by_name = search(session, sealer, "LOVEL")
    assert _found(by_name, Matched.CUSTOMER_NAME) == [fleet.ada.license.id]
    by_address = search(session, sealer, "ada.search@EXAMPLE.COM")
    assert _found(by_address, Matched.CUSTOMER_EMAIL) == [fleet.ada.license.id]
    assert search(session, sealer, "ada.search@example").hits == ()  # exact, not a part


def test_like_wildcards_in_a_name_are_taken_literally(
    session: Session, sealer: Sealer, fleet: Fleet
) -> None:
    assert search(session, sealer, "%").hits == ()
    assert search(session, sealer, "A_a").hits == ()


def test_a_server_name_is_found_by_its_keyed_hash_as_the_check_in_path_stored_it(
    session: Session, sealer: Sealer, fleet: Fleet
) -> None:
    result = search(session, sealer, RAW_SERVER)
    assert _found(result, Matched.SERVER_NAME) == [fleet.ada.license.id]  # one hit, not two
    assert result.hits[0].last_seen == NOW
    upper = search(session, sealer, RAW_SERVER.upper())
    assert _found(upper, Matched.SERVER_NAME) == [fleet.ada.license.id]


def test_pseudonymised_rows_are_found_by_server_name_ip_and_network(
    session: Session, sealer: Sealer, fleet: Fleet
) -> None:
    wanted = [fleet.pseudonymised.license.id]
    assert _found(search(session, sealer, OLD_SERVER), Matched.SERVER_NAME) == wanted
    assert _found(search(session, sealer, OLD_IP), Matched.IP) == wanted
    assert _found(search(session, sealer, "198.51.100.0/24"), Matched.NETWORK) == wanted
    assert _found(search(session, sealer, "198.51.100.200/24"), Matched.NETWORK) == wanted
    assert search(session, sealer, "198.51.100.24").hits == ()  # a neighbour: no match


def test_raw_ipv4_ipv6_and_ipv4_mapped_addresses_are_found(
    session: Session, sealer: Sealer, fleet: Fleet
) -> None:
    assert _found(search(session, sealer, RAW_IP), Matched.IP) == [fleet.ada.license.id]
    mapped = search(session, sealer, f"::ffff:{RAW_IP}")
    assert _found(mapped, Matched.IP) == [fleet.ada.license.id]
    assert _found(search(session, sealer, "2001:DB8:1:2:0::5"), Matched.IP) == [
        fleet.ipv6.license.id
    ]
    assert _found(search(session, sealer, "2001:db8:1::/48"), Matched.NETWORK) == [
        fleet.ipv6.license.id
    ]


def test_a_hit_echoes_no_raw_value_it_was_not_given(
    session: Session, sealer: Sealer, fleet: Fleet
) -> None:
    result = search(session, sealer, "203.0.113.0/24")
    assert _found(result, Matched.NETWORK) == [fleet.ada.license.id]
    shown = repr(result)
    # Whole values: a short fragment such as "ada" turns up by chance in random ids.
    for personal in (RAW_IP, RAW_SERVER, "Ada Lovelace", "ada.search@example.com"):
        assert personal.lower() not in shown.lower()


def test_hits_stop_at_the_limit_and_say_there_were_more(session: Session, sealer: Sealer) -> None:
    for _ in range(3):
        make_license(session, sealer, customer=make_customer(session, name="Truncated Trading"))
    result = search(session, sealer, "truncated trading", limit=2)
    assert len(result.hits) == 2
    assert result.truncated
    assert not search(session, sealer, "truncated trading", limit=3).truncated


def test_a_restricted_license_leaves_nothing_to_find_by_address(
    session: Session, sealer: Sealer
) -> None:
    issued = make_license(session, sealer)
    activation = _seat(session, issued.license, None)
    report = CheckIn(activation.id, None, "restricted.example.com", "2.0.0", {}, "192.0.2.77")
    record_check_in(
        session,
        sealer,
        license_id=issued.license.id,
        processing_restricted=True,
        report=report,
        now=NOW,
    )
    assert search(session, sealer, "192.0.2.77").hits == ()
    assert search(session, sealer, "restricted.example.com").hits == ()


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("   ", InvalidRequest),
        ("x" * 321, InvalidRequest),
        ("10.1.0.0/16", InvalidRequest),
        ("2001:db8::/32", InvalidRequest),
        ("ABCDE-ABCDE-ABCDE-ABCDE-ABCDE", MalformedKey),  # key-shaped: the check symbol is off
    ],
)
def test_a_query_that_cannot_be_searched_says_why(
    session: Session, sealer: Sealer, query: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        search(session, sealer, query)


def test_a_viewer_finds_nothing_by_ip_or_server_name_and_is_told_why(
    session: Session, sealer: Sealer, fleet: Fleet
) -> None:
    by_ip = search(session, sealer, RAW_IP, role="viewer")
    assert by_ip.hits == () and by_ip.terms == ()
    assert [term.matched for term in by_ip.withheld] == [Matched.IP]
    by_name = search(session, sealer, RAW_SERVER, role="viewer")
    assert _found(by_name, Matched.SERVER_NAME) == []
    assert Matched.SERVER_NAME in {term.matched for term in by_name.withheld}
    assert Matched.CUSTOMER_NAME in {term.matched for term in by_name.terms}  # still run
    assert _usage_searches(session) == []  # nothing usage-shaped ran


def test_a_viewer_still_finds_by_network_key_and_customer(
    session: Session, sealer: Sealer, fleet: Fleet
) -> None:
    wanted = [fleet.ada.license.id]
    by_network = search(session, sealer, "203.0.113.0/24", role="viewer")
    assert _found(by_network, Matched.NETWORK) == wanted and by_network.withheld == ()
    assert _found(search(session, sealer, "LOVEL", role="viewer"), Matched.CUSTOMER_NAME) == wanted
    by_hint = search(session, sealer, fleet.ada.license.key_hint, role="viewer")
    assert _found(by_hint, Matched.KEY_HINT) == wanted
    assert _usage_searches(session) == []


def test_a_usage_search_is_audited_by_kind_and_count_never_by_value(
    session: Session, sealer: Sealer, fleet: Fleet
) -> None:
    analyst = _staff(session, "analyst")
    staff_search.search(session, sealer, RAW_IP, staff=analyst, now=NOW)
    staff_search.search(session, sealer, RAW_SERVER, staff=analyst, now=NOW)
    by_ip, by_name = _usage_searches(session)
    assert by_ip.actor == by_name.actor == f"staff:{analyst.id}"
    assert by_ip.data == {"readings": ["ip"], "hits": 1, "usage_hits": 1, "truncated": False}
    assert "server_name" in by_name.data["readings"] and by_name.data["usage_hits"] == 1
    stored = repr([(e.data, e.subject_id) for e in (by_ip, by_name)])
    for value in (
        RAW_IP,
        RAW_SERVER,
        ip_hash(sealer, RAW_IP, period=hash_period(NOW.date())).hex(),
        "mail-7",
    ):
        assert value not in stored
    staff_search.search(session, sealer, "203.0.113.0/24", staff=analyst, now=NOW)
    assert len(_usage_searches(session)) == 2  # a network search is not a usage search
