"""``licensing misuse cases`` and ``case show``: the queue, filters, references, evidence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import InvalidRequest, NotFound
from licensing.misuse.findings import Rule
from licensing.services import misuse_case_actions as actions
from licensing.timeutil import utcnow
from tests.factories import make_license
from tests.functional.cli.invoke import Licensing, table
from tests.functional.cli.misuse_helpers import open_case


def test_cases_lists_high_severity_first_and_filters(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    first = make_license(session, sealer).license
    second = make_license(session, sealer).license
    spread = open_case(session, first, Rule.SERVER_SPREAD)
    clone = open_case(session, second, Rule.CLONED_INSTANCE, {"activations": []})
    network = open_case(session, second, Rule.NETWORK_SPREAD, {"networks": []})

    rows = table(licensing.ok("misuse", "cases"))
    assert [r["id"] for r in rows] == [str(clone.id), str(spread.id), str(network.id)]
    assert rows[0]["license"] == second.key_id
    assert rows[0]["severity"] == "high" and rows[0]["status"] == "open"

    assert [c["id"] for c in licensing.json("misuse", "cases", "--rule", "SERVER_SPREAD")] == [
        str(spread.id)
    ]
    assert [c["id"] for c in licensing.json("misuse", "cases", "--severity", "low")] == [
        str(network.id)
    ]
    by_license = licensing.json("misuse", "cases", f"--license={first.key_id}")
    assert [c["id"] for c in by_license] == [str(spread.id)]
    by_id = licensing.json("misuse", "cases", "--license", str(second.id))
    assert {c["id"] for c in by_id} == {str(clone.id), str(network.id)}

    actions.dismiss(session, spread, reason="renames", actor="test:staff", now=utcnow())
    assert [c["id"] for c in licensing.json("misuse", "cases", "--status", "dismissed")] == [
        str(spread.id)
    ]
    assert [c["id"] for c in licensing.json("misuse", "cases", "--status", "confirmed")] == []
    assert licensing.ok("misuse", "cases", "--status", "confirmed").strip() == "(none)"


def test_cases_refuses_unknown_filters(licensing: Licensing) -> None:
    assert licensing.run("misuse", "cases", "--rule", "NOPE").exit_code == 2
    assert licensing.run("misuse", "cases", "--status", "closed").exit_code == 2
    error = licensing.fails("misuse", "cases", "--license", "00000000-0000-0000-0000-000000000000")
    assert isinstance(error, NotFound)


def test_case_show_prints_evidence_history_exceptions_and_the_next_step(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    case = open_case(session, lic)
    actions.note(
        session, case, text="looks like a container platform", actor="test:a", now=utcnow()
    )
    until = (utcnow() + timedelta(days=30)).date().isoformat()
    exception = licensing.json(
        "misuse", "exception", "add", str(lic.id), "--rule", "SERVER_SPREAD",
        "--kind", "test_server", "--reason", "CI fleet", "--until", until,
    )  # fmt: skip
    other_rule = licensing.json(
        "misuse", "exception", "add", str(lic.id), "--rule", "NETWORK_SPREAD",
        "--kind", "nat", "--reason", "office", "--until", until,
    )  # fmt: skip

    out = licensing.ok("misuse", "case", "show", str(case.id)[:8])

    assert f"id               {case.id}" in out
    assert "evidence:" in out and "  distinct_servers: 4" in out
    assert (
        "  servers: (4)" in out and "    - server=s1 activations=a1 check_ins=3 last_seen=" in out
    )
    assert "events:" in out and "opened  by system:misuse-scan" in out
    assert "noted  by test:a  text=looks like a container platform" in out
    assert f"  {exception['id']}  test_server until {until}T00:00:00Z" in out
    assert "(declared by cli:" in out and "): CI fleet" in out
    assert other_rule["id"] not in out  # another rule's exception does not apply
    assert "proposed escalation:\n  none: the case is open: only a confirmed case" in out

    shown = licensing.json("misuse", "case", "show", str(case.id))
    assert shown["evidence"]["distinct_servers"] == 4
    assert [e["kind"] for e in shown["events"]] == ["opened", "noted"]
    assert shown["proposed"] == {
        "step": None,
        "due_at": None,
        "due": False,
        "why_none": "the case is open: only a confirmed case is escalated",
    }
    assert [x["id"] for x in shown["exceptions"]] == [exception["id"]]
    assert shown["exceptions"][0]["state"] == "active"


def test_case_references(licensing: Licensing, session: Session, sealer: Sealer) -> None:
    case = open_case(session, make_license(session, sealer).license)
    assert licensing.json("misuse", "case", "show", str(case.id).upper())["id"] == str(case.id)
    assert licensing.json("misuse", "case", "show", case.id.hex[:10])["id"] == str(case.id)

    short = licensing.fails("misuse", "case", "show", case.id.hex[:7])
    assert isinstance(short, InvalidRequest) and "at least its first 8 hex digits" in str(short)
    assert isinstance(licensing.fails("misuse", "case", "show", "not-hex!"), InvalidRequest)
    missing = "ffffffff" if not case.id.hex.startswith("ffffffff") else "00000000"
    assert isinstance(licensing.fails("misuse", "case", "show", missing), NotFound)
    assert isinstance(
        licensing.fails("misuse", "case", "show", "ffffffff-ffff-ffff-ffff-ffffffffffff"), NotFound
    )


@pytest.mark.parametrize("command", ["show", "assign", "note", "confirm", "dismiss", "escalate"])
def test_every_case_command_has_help(licensing: Licensing, command: str) -> None:
    out = licensing.ok("misuse", "case", command, "--help")
    assert "CASE is a case id or a unique prefix" in out
