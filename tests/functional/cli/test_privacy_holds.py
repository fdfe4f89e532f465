"""``licensing privacy hold place|release|list``: legal holds from the command line."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import InvalidRequest, InvalidTransition, NotFound
from licensing.models import Customer, LegalHold
from licensing.services import legal_holds
from licensing.timeutil import utcnow
from tests.factories import latest_event, make_license
from tests.functional.cli.invoke import Licensing, table
from tests.functional.cli.misuse_helpers import open_case

MATTER = "Smith v. Example Ltd"
REASON = "litigation notice received from counsel"


def _day(days: int) -> str:
    return (utcnow().date() + timedelta(days=days)).isoformat()


def _place(licensing: Licensing, *subject: str, review_in: int = 90) -> dict[str, object]:
    placed: dict[str, object] = licensing.json(
        "privacy", "hold", "place", *subject,
        "--matter", MATTER, "--reason", REASON, "--review-on", _day(review_in),
    )  # fmt: skip
    return placed


def test_place_on_a_license_by_key_and_on_a_customer_by_email(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    issued = make_license(session, sealer)
    session.commit()
    on_license = _place(licensing, "--license", issued.key.display)
    assert on_license["scope"] == "license" and on_license["license"] == issued.license.key_id
    assert on_license["review_on"] == _day(90) and on_license["review_due"] is False
    assert latest_event(session).action == "legal_hold.placed"
    assert MATTER not in str(latest_event(session).data)

    customer = session.get_one(Customer, issued.license.customer_id)
    on_customer = _place(licensing, "--customer", customer.email.upper())
    assert on_customer["scope"] == "customer"
    assert on_customer["customer_id"] == str(customer.id)
    assert {h.id for h in session.scalars(select(LegalHold))} == {
        legal_holds.find(session, str(on_license["id"])).id,
        legal_holds.find(session, str(on_customer["id"])).id,
    }


def test_place_refuses_bad_input_in_one_line_and_keeps_nothing(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    issued = make_license(session, sealer)
    session.commit()
    key_id = issued.license.key_id
    place = ("privacy", "hold", "place", "--matter", MATTER, "--reason", REASON)
    both = licensing.run(*place, "--license", key_id, "--customer", "x@example.org",
                         "--review-on", _day(9))  # fmt: skip
    assert both.exit_code == 2 and "exactly one of --license and --customer" in both.output
    neither = licensing.run(*place, "--review-on", _day(9))
    assert neither.exit_code == 2
    past = licensing.fails(*place, "--license", key_id, "--review-on", _day(0))
    assert isinstance(past, InvalidRequest) and "after today" in str(past)
    far = licensing.fails(*place, "--license", key_id, "--review-on", _day(5 * 366 + 2))
    assert isinstance(far, InvalidRequest) and "5 years" in str(far)
    short = licensing.fails(
        "privacy", "hold", "place", "--license", key_id, "--matter", MATTER,
        "--reason", "short", "--review-on", _day(9),
    )  # fmt: skip
    assert isinstance(short, InvalidRequest) and "\n" not in str(short)
    unknown = licensing.fails(*place, "--customer", "nobody@example.org", "--review-on", _day(9))
    assert isinstance(unknown, NotFound)
    bad_date = licensing.run(*place, "--license", key_id, "--review-on", "next week")
    assert bad_date.exit_code == 2 and "--review-on" in bad_date.output
    session.expire_all()
    assert session.scalars(select(LegalHold)).all() == []


def test_release_ends_the_hold_and_a_second_release_is_refused(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    issued = make_license(session, sealer)
    session.commit()
    placed = _place(licensing, "--license", issued.license.key_id)

    released = licensing.json(
        "privacy", "hold", "release", str(placed["id"]), "--reason", "the claim was settled"
    )
    assert released["released_at"] is not None and released["released_by"].startswith("cli:")
    assert latest_event(session).action == "legal_hold.released"
    again = licensing.fails(
        "privacy", "hold", "release", str(placed["id"]), "--reason", "the claim was settled"
    )
    assert isinstance(again, InvalidTransition) and "already released" in str(again)
    missing = licensing.fails("privacy", "hold", "release", "nope", "--reason", "whatever it is")
    assert isinstance(missing, NotFound)


def test_release_is_refused_under_four_eyes_naming_the_approvals_page(
    four_eyes_app: Flask, session: Session, sealer: Sealer
) -> None:
    issued = make_license(session, sealer)
    session.commit()
    licensing = Licensing(four_eyes_app.test_cli_runner())
    with four_eyes_app.app_context():
        placed = _place(licensing, "--license", issued.license.key_id)
        before = latest_event(session).seq
        refused = licensing.fails(
            "privacy", "hold", "release", str(placed["id"]), "--reason", "the claim was settled"
        )
    assert isinstance(refused, InvalidTransition)
    assert "LICENSING_FOUR_EYES" in str(refused) and "second admin" in str(refused)
    assert f"/staff/holds/{placed['id']}" in str(refused) and "Approvals" in str(refused)
    assert "\n" not in str(refused)
    session.expire_all()
    assert legal_holds.find(session, str(placed["id"])).released_at is None
    assert latest_event(session).seq == before


def test_list_in_force_all_and_due(licensing: Licensing, session: Session, sealer: Sealer) -> None:
    soon = make_license(session, sealer).license
    later = make_license(session, sealer).license
    gone = make_license(session, sealer).license
    session.commit()
    _place(licensing, "--license", later.key_id, review_in=200)
    _place(licensing, "--license", soon.key_id, review_in=1)
    released = _place(licensing, "--license", gone.key_id)
    licensing.ok("privacy", "hold", "release", str(released["id"]), "--reason", "settled at last")

    rows = table(licensing.ok("privacy", "hold", "list"))
    assert [r["license"] for r in rows] == [soon.key_id, later.key_id]
    assert all(r["review_due"] == "False" for r in rows)
    everything = licensing.json("privacy", "hold", "list", "--all")
    assert {h["license"] for h in everything} == {soon.key_id, later.key_id, gone.key_id}
    assert "released_at" in table(licensing.ok("privacy", "hold", "list", "--all"))[0]
    assert licensing.ok("privacy", "hold", "list", "--due").strip() == "(none)"
    # A review comes due: the hold is still in force, and now listed as due.
    hold = legal_holds.find(session, str(rows[0]["id"]))
    hold.review_on = utcnow().date()
    session.commit()
    due = licensing.json("privacy", "hold", "list", "--due")
    assert [(h["license"], h["review_due"]) for h in due] == [(soon.key_id, True)]
    both = licensing.run("privacy", "hold", "list", "--all", "--due")
    assert both.exit_code == 2 and "choose one of --all and --due" in both.output


def test_confirming_a_case_says_which_hold_keeps_its_evidence(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    case = open_case(session, license)
    session.commit()
    shown = licensing.json("misuse", "case", "confirm", str(case.id), "--reason", "4 servers")
    assert shown["legal_hold_placed"] is True
    hold = legal_holds.find(session, str(shown["legal_hold_id"]))
    assert (hold.license_id, hold.case_id) == (license.id, case.id)
    listed = licensing.json("privacy", "hold", "list")
    assert [h["case_id"] for h in listed] == [str(case.id)]


def test_the_hold_commands_explain_themselves(licensing: Licensing) -> None:
    assert "hold" in licensing.ok("privacy", "--help")
    for command in ("place", "release", "list"):
        assert "legal hold" in licensing.ok("privacy", "hold", command, "--help").lower()
