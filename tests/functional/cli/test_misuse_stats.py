"""``licensing misuse stats``: per rule, cases by status and the measured false-positive rate."""

from __future__ import annotations

from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.misuse.findings import Rule
from licensing.services import misuse_case_actions as actions
from licensing.timeutil import utcnow
from tests.factories import make_license
from tests.functional.cli.invoke import Licensing, table
from tests.functional.cli.misuse_helpers import open_case, spread_evidence


def test_stats_per_rule(licensing: Licensing, session: Session, sealer: Sealer) -> None:
    licensed = [make_license(session, sealer).license for _ in range(4)]
    spread = [open_case(session, lic, Rule.SERVER_SPREAD) for lic in licensed]
    open_case(session, licensed[0], Rule.NETWORK_SPREAD, {"networks": []})
    now = utcnow()
    actions.confirm(session, spread[0], reason="r", actor="test:a", now=now)
    actions.dismiss(session, spread[1], reason="r", actor="test:a", now=now)
    actions.dismiss(session, spread[2], reason="r", actor="test:a", now=now)
    # A reopened case counts once among the opened, and as reopened.
    open_case(
        session, licensed[2], Rule.SERVER_SPREAD, spread_evidence("s1", "s2", "s3", "s4", "s9")
    )

    figures = {row["rule"]: row for row in licensing.json("misuse", "stats")}

    assert list(figures) == [rule.value for rule in Rule]
    assert figures["SERVER_SPREAD"] == {
        "rule": "SERVER_SPREAD",
        "opened": 4,
        "reopened": 1,
        "open": 2,
        "confirmed": 1,
        "dismissed": 1,
        "false_positive_rate": 0.5,
    }
    assert figures["NETWORK_SPREAD"]["open"] == 1
    assert figures["NETWORK_SPREAD"]["false_positive_rate"] is None
    assert figures["CLONED_INSTANCE"]["opened"] == 0

    rows = {row["rule"]: row for row in table(licensing.ok("misuse", "stats"))}
    assert rows["SERVER_SPREAD"]["false_positive_rate"] == "50%"
    assert rows["NETWORK_SPREAD"]["false_positive_rate"] == "n/a"


def test_stats_without_cases(licensing: Licensing) -> None:
    rows = table(licensing.ok("misuse", "stats"))
    assert len(rows) == len(Rule)
    assert {row["false_positive_rate"] for row in rows} == {"n/a"}
    assert "false-positive rate" in licensing.ok("misuse", "stats", "--help")
