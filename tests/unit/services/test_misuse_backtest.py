"""The backtest on a seeded set: flagged under the proposal and today, the cases already
decided among them, examples, and nothing written."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import InvalidRequest
from licensing.misuse.findings import Rule
from licensing.misuse.thresholds import Thresholds
from licensing.models import License
from licensing.models.misuse import MisuseCase, MisuseException
from licensing.services import misuse_backtest
from tests.factories import make_license
from tests.unit.services.misuse_rows import DAY, NOW, daily, seat


def _sites(session: Session, sealer: Sealer, networks: int, *, days: int = 3) -> License:
    """A license whose servers each check in from a network of their own."""
    license = make_license(session, sealer).license
    for n in range(networks):
        activation = seat(session, license.id, activated_days_ago=20)
        daily(session, activation, days, network=f"203.0.{n}", server=f"host-{n % 3}")
    return license


def _case(session: Session, license: License, rule: Rule, status: str) -> None:
    session.add(
        MisuseCase(
            license_id=license.id,
            rule=rule.value,
            severity="low",
            status=status,
            summary="seeded",
            evidence={},
            first_seen=NOW - DAY,
            last_seen=NOW,
        )
    )


def _exception(session: Session, license: License, rule: Rule) -> None:
    session.add(
        MisuseException(
            license_id=license.id,
            rule=rule.value,
            kind="nat",
            reason="offices behind one provider",
            declared_by="test",
            declared_at=NOW - DAY,
            ends_at=NOW + 30 * DAY,
        )
    )


def _run(
    session: Session, changes: dict[str, str], since: datetime | None = None
) -> dict[str, Any]:
    current, proposed = misuse_backtest.proposal(changes, Thresholds(), now=NOW, since=since)
    report = misuse_backtest.backtest(
        session, rule=Rule.NETWORK_SPREAD, current=current, proposed=proposed, now=NOW
    )
    return report.to_json()


def test_a_stricter_threshold_flags_more_and_counts_the_decided_cases(
    session: Session, sealer: Sealer
) -> None:
    six = [_sites(session, sealer, 6) for _ in range(3)]
    four = [_sites(session, sealer, 4) for _ in range(2)]
    _sites(session, sealer, 2)
    _case(session, six[0], Rule.NETWORK_SPREAD, "confirmed")
    _case(session, four[0], Rule.NETWORK_SPREAD, "dismissed")
    _case(session, six[1], Rule.NETWORK_SPREAD, "open")
    _case(session, six[2], Rule.SERVER_SPREAD, "open")  # another rule's case: not counted
    _exception(session, four[1], Rule.NETWORK_SPREAD)
    session.flush()
    cases_before = session.scalar(select(func.count()).select_from(MisuseCase))

    report = _run(session, {"network_spread_networks": "3"})

    assert report["rule"] == "NETWORK_SPREAD"
    assert report["proposed"] == {"network_spread_networks": 3}
    assert report["licenses_evaluated"] == 6
    assert (report["flagged"], report["flagged_now"], report["difference"]) == (5, 3, 2)
    assert (report["newly_flagged"], report["no_longer_flagged"]) == (2, 0)
    assert report["cases"] == {"open": 1, "confirmed": 1, "dismissed": 1}
    assert report["quiet_by_exception"] == 1
    examples = report["examples"]
    assert len(examples) == 5
    # What the change adds comes first: the four-network licenses.
    assert {e["license_id"] for e in examples[:2]} == {str(license.id) for license in four}
    assert [e["flagged_now"] for e in examples] == [False, False, True, True, True]
    assert examples[0]["key_hint"] in {license.key_hint for license in four}
    assert "4 distinct networks" in examples[0]["summary"]
    assert session.scalar(select(func.count()).select_from(MisuseCase)) == cases_before


def test_a_looser_threshold_flags_fewer(session: Session, sealer: Sealer) -> None:
    _sites(session, sealer, 6)
    _sites(session, sealer, 7)

    report = _run(session, {"network_spread_networks": "6"})

    assert (report["flagged"], report["flagged_now"], report["no_longer_flagged"]) == (1, 2, 1)


def test_licenses_whose_processing_is_restricted_are_not_replayed(
    session: Session, sealer: Sealer
) -> None:
    # An objection to processing on legitimate interests: the scan leaves the license
    # out, so the backtest must too, or it would replay history the scan may not read.
    kept = _sites(session, sealer, 6)
    objected = _sites(session, sealer, 6)
    objected.processing_restricted = True
    session.flush()

    report = _run(session, {"network_spread_networks": "3"})

    assert report["licenses_evaluated"] == 1
    assert (report["flagged"], report["flagged_now"]) == (1, 1)
    assert [e["license_id"] for e in report["examples"]] == [str(kept.id)]


def test_since_replays_a_longer_history(session: Session, sealer: Sealer) -> None:
    # Six networks, but the last one was seen 40 days ago: outside the 30-day lookback.
    license = make_license(session, sealer).license
    for n in range(6):
        activation = seat(session, license.id, activated_days_ago=60)
        daily(session, activation, 45 if n == 5 else 3, 40 if n == 5 else 0, network=f"203.0.{n}")

    assert _run(session, {})["flagged"] == 0
    longer = _run(session, {}, since=NOW - 50 * DAY)
    assert (longer["flagged"], longer["flagged_now"]) == (1, 1)
    assert longer["since"] == NOW - 50 * DAY


@pytest.mark.parametrize(
    ("changes", "problem"),
    [({"network_spread": "3"}, "unknown misuse threshold"), ({"churn_days": "0"}, "at least 1")],
)
def test_bad_proposals_are_one_clear_error(changes: dict[str, str], problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        misuse_backtest.proposal(changes, Thresholds(), now=NOW, since=None)


@pytest.mark.parametrize(
    "since", [datetime(1, 1, 1, tzinfo=UTC), NOW - 401 * DAY], ids=["year 1", "401 days"]
)
def test_since_reaches_back_at_most_the_longest_lookback(since: datetime) -> None:
    with pytest.raises(InvalidRequest, match=r"^--since must be within the last 400 days"):
        misuse_backtest.proposal({}, Thresholds(), now=NOW, since=since)


def test_since_the_longest_lookback_reads_it_all() -> None:
    current, _ = misuse_backtest.proposal({}, Thresholds(), now=NOW, since=NOW - 400 * DAY)
    assert current.lookback_days == 400


def test_a_proposed_lookback_past_the_largest_is_one_clear_error() -> None:
    with pytest.raises(InvalidRequest, match="lookback_days must be at most 400"):
        misuse_backtest.proposal({"lookback_days": "3000000"}, Thresholds(), now=NOW, since=None)


def test_an_unknown_rule_names_the_known_ones() -> None:
    assert misuse_backtest.rule_named("network_spread") is Rule.NETWORK_SPREAD
    with pytest.raises(InvalidRequest, match="unknown misuse rule 'SPREAD'; known: MIGRATION"):
        misuse_backtest.rule_named("SPREAD")
