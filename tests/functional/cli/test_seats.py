"""``licensing license activations|release-seat|usage``: what the instances of a license did."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from licensing.errors import NotFound
from licensing.models import Activation, UsageObservation
from tests.factories import latest_event
from tests.functional.cli.invoke import Licensing, table
from tests.functional.conftest import MakeLicensed
from tests.functional.instance_client import Instance, Licensed


def test_activations_list_every_seat_with_its_state(
    licensing: Licensing, instance: Instance, licensed: Licensed
) -> None:
    first = instance.activate().body["activation"]["id"]
    other = instance.other(server_name="mail02.example.com", version="1.0.0")
    second = other.activate().body["activation"]["id"]
    assert instance.deactivate(first).code == "DEACTIVATED"

    listed = licensing.json("license", "activations", licensed.key)

    assert [row["id"] for row in listed] == [first, second]
    released, live = listed
    assert (released["status"], released["release_reason"]) == ("released", "deactivated")
    assert released["released_at"] is not None
    assert live == live | {
        "fingerprint": other.fingerprint,
        "server_name": "mail02.example.com",
        "product_version": "1.0.0",
        "status": "active",
        "release_reason": None,
        "released_at": None,
    }
    assert live["activated_at"] <= live["last_check_in_at"]
    rows = table(licensing.ok("license", "activations", str(licensed.license.id)))
    assert [(r["id"], r["status"], r["release_reason"]) for r in rows] == [
        (first, "released", "deactivated"),
        (second, "active", "-"),
    ]
    assert rows[1]["server_name"] == "mail02.example.com"


def test_a_license_without_activations(licensing: Licensing, licensed: Licensed) -> None:
    assert licensing.json("license", "activations", licensed.key) == []
    assert licensing.ok("license", "activations", licensed.key).strip() == "(none)"


def test_release_seat_frees_it_for_another_server(
    licensing: Licensing, session: Session, instance: Instance, licensed: Licensed
) -> None:
    held = instance.activate().body["activation"]["id"]
    other = instance.other()
    other.activate()  # the migration seat
    assert instance.other().activate().code == "TOO_MANY_ACTIVATIONS"

    released = licensing.json(
        "license", "release-seat", licensed.key, held, "--reason", "server scrapped"
    )

    assert (released["id"], released["status"], released["release_reason"]) == (
        held,
        "released",
        "staff",
    )
    event = latest_event(session)
    assert (event.action, event.subject_id) == ("activation.released", str(licensed.license.id))
    assert event.data == {"activation_id": held, "reason": "server scrapped"}
    assert instance.other().activate().status == 201
    # The released instance no longer checks in on that seat.
    assert instance.check_in().code == "NOT_ACTIVATED"


def test_release_seat_by_fingerprint(
    licensing: Licensing, instance: Instance, licensed: Licensed
) -> None:
    held = instance.activate().body["activation"]["id"]

    released = licensing.json(
        "license", "release-seat", licensed.key, instance.fingerprint, "--reason", "moved"
    )

    assert (released["id"], released["status"]) == (held, "released")


def test_release_seat_by_the_official_clients_fingerprint(
    licensing: Licensing, instance: Instance, licensed: Licensed
) -> None:
    # The client derives 32 random hex characters, which also read as a UUID.
    official = instance.other(fingerprint=secrets.token_hex(16))
    held = official.activate().body["activation"]["id"]

    released = licensing.json(
        "license", "release-seat", licensed.key, official.fingerprint, "--reason", "moved"
    )

    assert (released["id"], released["status"]) == (held, "released")
    listed = licensing.json("license", "activations", licensed.key)
    assert [(row["fingerprint"], row["status"]) for row in listed] == [
        (official.fingerprint, "released")
    ]


def test_release_seat_refuses_what_holds_no_seat(
    licensing: Licensing, instance: Instance, licensed: Licensed
) -> None:
    held = instance.activate().body["activation"]["id"]
    licensing.ok("license", "release-seat", licensed.key, held, "--reason", "scrapped")

    again = licensing.fails("license", "release-seat", licensed.key, held, "--reason", "again")
    unknown = licensing.fails("license", "release-seat", licensed.key, "f" * 32, "--reason", "x")

    assert isinstance(again, NotFound)
    assert "was released" in again.detail
    assert isinstance(unknown, NotFound)
    blank = licensing.run("license", "release-seat", licensed.key, held, "--reason", " ")
    assert blank.exit_code == 2
    assert "must not be empty" in blank.output


def test_release_seat_of_another_license_is_not_found(
    licensing: Licensing, instance: Instance, make_licensed: MakeLicensed
) -> None:
    held = instance.activate().body["activation"]["id"]
    stranger = make_licensed()

    error = licensing.fails("license", "release-seat", stranger.key, held, "--reason", "x")

    assert isinstance(error, NotFound)


def test_usage_per_day(
    licensing: Licensing, session: Session, instance: Instance, licensed: Licensed
) -> None:
    instance.activate(usage={"mailboxes": 5})
    instance.check_in(usage={"mailboxes": 7})
    other = instance.other(server_name="mail02.example.com", version="1.0.0")
    other.activate(usage={"mailboxes": 3, "domains": 1})
    # The second instance's observation moved three days back.
    session.execute(
        update(UsageObservation)
        .where(
            UsageObservation.license_id == licensed.license.id,
            UsageObservation.product_version == "1.0.0",
        )
        .values(day=datetime.now(UTC).date() - timedelta(days=3))
    )
    session.commit()

    days = licensing.json("license", "usage", licensed.key)

    today = datetime.now(UTC).date()
    assert days == [
        {
            "day": (today - timedelta(days=3)).isoformat(),
            "activations": 1,
            "check_ins": 1,
            "addresses": 1,
            "versions": ["1.0.0"],
            "usage": {"mailboxes": 3, "domains": 1},
        },
        {
            "day": today.isoformat(),
            "activations": 1,
            "check_ins": 2,
            "addresses": 1,
            "versions": ["2.0.0"],
            "usage": {"mailboxes": 7},  # the latest report of the day
        },
    ]
    assert [d["day"] for d in licensing.json("license", "usage", licensed.key, "--days", "2")] == [
        today.isoformat()
    ]
    rows = table(licensing.ok("license", "usage", licensed.key))
    assert rows[1] == {
        "day": today.isoformat(),
        "activations": "1",
        "check_ins": "2",
        "addresses": "1",
        "versions": "2.0.0",
        "usage": "mailboxes=7",
    }


def test_usage_adds_up_the_servers_of_a_day(
    licensing: Licensing, session: Session, instance: Instance, licensed: Licensed
) -> None:
    instance.activate(usage={"mailboxes": 5})
    elsewhere = instance.other(version="1.0.0", environ={"REMOTE_ADDR": "192.0.2.7"})
    elsewhere.activate(usage={"mailboxes": 3})

    (today,) = licensing.json("license", "usage", licensed.key)

    assert (today["activations"], today["check_ins"], today["addresses"]) == (2, 2, 2)
    assert today["versions"] == ["1.0.0", "2.0.0"]
    assert today["usage"] == {"mailboxes": 8}
    assert len(session.scalars(select(Activation)).all()) == 2


@pytest.mark.parametrize("days", ["0", "-1", "x"])
def test_usage_days_must_be_positive(licensing: Licensing, licensed: Licensed, days: str) -> None:
    result = licensing.run("license", "usage", licensed.key, "--days", days)

    assert result.exit_code == 2
    assert "--days" in result.output
