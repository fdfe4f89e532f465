"""``licensing privacy erase`` and ``replay-erasures``, run in the test's transaction
(the scrub, which needs committed data, is proven in tests/functional/privacy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Customer, PrivacyRequestKind
from licensing.services import erasure_ledger, privacy_requests
from tests.erasure_seed import NOW, erasure_request, seed_customer
from tests.functional.cli.invoke import Licensing


def test_the_dry_run_shows_the_counts_the_erasure_then_makes(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    subject = seed_customer(session, sealer, tag="cli-a")
    request = erasure_request(session, subject.customer)
    planned = licensing.json("privacy", "erase", "--request", str(request.id), "--dry-run")
    assert session.get(Customer, subject.customer.id).anonymised_at is None  # type: ignore[union-attr]

    done = licensing.json("privacy", "erase", "--request", str(request.id), "--yes", "--no-scrub")

    assert planned["changes"] == done["changes"]
    counts = {c["table"]: c["rows"] for c in done["changes"]}
    assert counts["usage_observations"] == 4 and counts["customers"] == 1
    assert {k["table"] for k in done["kept"]} >= {"disclosures", "audit_events"}
    assert done["scrubbed"] == [] and done["scrub_seconds"] is None
    session.expire_all()
    assert privacy_requests.get(session, request.id).status == "completed"


def test_the_text_output_shows_the_plan_what_is_kept_and_the_scrub_left_to_do(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    subject = seed_customer(session, sealer, tag="cli-b")
    request = erasure_request(session, subject.customer)
    out = licensing.ok("privacy", "erase", "--request", str(request.id), "--no-scrub", input="y\n")
    assert "usage_observations" in out and "kept disclosures (2)" in out
    assert "erased customer" in out and "licensing privacy scrub" in out


def test_without_confirmation_nothing_is_erased(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    subject = seed_customer(session, sealer, tag="cli-c")
    request = erasure_request(session, subject.customer)
    declined = licensing.run("privacy", "erase", "--request", str(request.id), input="n\n")
    assert declined.exit_code == 1
    assert "not confirmed; nothing was changed" in declined.stderr
    session.expire_all()
    assert session.get(Customer, subject.customer.id).anonymised_at is None  # type: ignore[union-attr]
    assert privacy_requests.get(session, request.id).status == "open"


def test_a_request_of_another_kind_is_refused_in_one_line(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    subject = seed_customer(session, sealer, tag="cli-d", licenses=1)
    access = privacy_requests.record(
        session,
        kind=PrivacyRequestKind.ACCESS,
        customer_id=subject.customer.id,
        received_at=NOW,
        identity_verification="reply from the licensed address",
        actor="test",
        now=NOW,
    )
    error = licensing.fails("privacy", "erase", "--request", str(access.id), "--yes")
    assert "for access, not erasure" in str(error)


def test_replay_erases_again_who_a_valid_line_names_and_reports_a_forged_line(
    licensing: Licensing, session: Session, sealer: Sealer, tmp_path: Path
) -> None:
    back = seed_customer(session, sealer, tag="cli-e")  # as if restored from a backup
    ledger = tmp_path / "ledger.jsonl"
    erasure_ledger.append(
        ledger, sealer, customer_id=back.customer.id, request_id=None, erased_at=NOW
    )
    forged = json.loads(ledger.read_text().splitlines()[0])
    forged["erased_at"] = "2026-01-01T00:00:00+00:00"
    with ledger.open("a") as handle:
        handle.write(json.dumps(forged) + "\n")

    planned = licensing.run(
        "privacy", "replay-erasures", "--ledger", str(ledger), "--dry-run", "--json"
    )
    assert planned.exit_code != 0 and "failed the MAC check" in planned.stderr
    assert "(line 2)" in planned.stderr
    assert json.loads(planned.stdout)["replayed"][0]["customer_id"] == str(back.customer.id)
    session.expire_all()
    assert session.get(Customer, back.customer.id).anonymised_at is None  # type: ignore[union-attr]

    first = licensing.run(
        "privacy", "replay-erasures", "--ledger", str(ledger), "--no-scrub", "--json"
    )
    assert first.exit_code != 0  # the forged line is still there
    assert len(json.loads(first.stdout)["replayed"]) == 1
    session.expire_all()
    assert session.get(Customer, back.customer.id).anonymised_at is not None  # type: ignore[union-attr]

    second = licensing.run("privacy", "replay-erasures", "--ledger", str(ledger), "--json")
    report = json.loads(second.stdout)
    assert report["replayed"] == [] and report["already_erased"] == 1
    assert report["bad_lines"] == [2]


def test_a_missing_ledger_file_named_on_the_command_line_is_an_error(
    licensing: Licensing, tmp_path: Path
) -> None:
    result = licensing.run("privacy", "replay-erasures", "--ledger", str(tmp_path / "none"))
    assert result.exit_code == 1 and "no ledger at" in result.stderr


@pytest.mark.parametrize("command", ["erase", "replay-erasures", "scrub"])
def test_each_command_has_help(licensing: Licensing, command: str) -> None:
    assert "Usage:" in licensing.ok("privacy", command, "--help")
