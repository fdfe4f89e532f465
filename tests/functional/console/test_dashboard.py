"""The dashboard on the landing page: case charts, check-ins per day, what ends soon.

The usage charts read what the ``usage-rollup`` job computed (tests/unit/services/
test_usage_rollup.py has the figures themselves), so these tests roll up before they look.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.extensions import db
from licensing.models import Activation, License, UsageObservation
from licensing.models.misuse import MisuseCase, SignatureFailure
from licensing.services import console_dashboard as dashboard
from licensing.services import usage_rollup
from licensing.timeutil import utcnow
from tests.factories import make_activation, make_license
from tests.functional.console.conftest import MakeStaff, sign_in

DAY = timedelta(days=1)


def _case(session: Session, license: License, rule: str, severity: str, status: str) -> None:
    session.add(
        MisuseCase(
            license_id=license.id,
            rule=rule,
            severity=severity,
            status=status,
            summary="seeded",
            evidence={},
            first_seen=utcnow() - DAY,
            last_seen=utcnow(),
        )
    )


def _observe(
    session: Session,
    license: License,
    days_ago: int,
    count: int,
    activation: Activation | None = None,
) -> Activation:
    if activation is None:
        activation = make_activation(session, license.id, silent_for=DAY, now=utcnow())
    session.add(
        UsageObservation(
            activation_id=activation.id,
            license_id=license.id,
            day=(utcnow() - days_ago * DAY).date(),
            observation_key=uuid.uuid4().bytes * 2,
            product_version="1.0.0",
            count=count,
        )
    )
    return activation


def _roll_up(session: Session, now: datetime | None = None) -> None:
    """What ``licensing jobs run`` does for the dashboard, committed."""
    usage_rollup.roll_up_due(session, now=now or utcnow())
    session.commit()


def _page(client: FlaskClient, make_staff: MakeStaff) -> str:
    make_staff()
    sign_in(client, "viewer@example.org")
    response = client.get("/staff/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _figure(text: str, figure_id: str) -> str:
    found = re.search(rf'<figure id="{figure_id}">(.*?)</figure>', text, re.S)
    assert found, figure_id
    return found.group(1)


def test_an_empty_dashboard_renders_for_a_viewer(
    client: FlaskClient, make_staff: MakeStaff
) -> None:
    text = _page(client, make_staff)
    for figure_id in ("cases-by-severity", "cases-by-rule", "check-ins", "active-instances"):
        assert "<svg" in _figure(text, figure_id)
    assert "No data yet" in _figure(text, "cases-by-severity")
    assert '<span class="figure" id="signature-failures">0</span>' in text
    assert text.count("None in the next 30 days.") == 2


def test_open_cases_are_charted_by_severity_and_rule(
    client: FlaskClient, make_staff: MakeStaff, session: Session, sealer: Sealer
) -> None:
    licenses = [make_license(session, sealer).license for _ in range(3)]
    _case(session, licenses[0], "seat_overuse", "high", "open")
    _case(session, licenses[1], "seat_overuse", "medium", "open")
    _case(session, licenses[2], "key_sharing", "high", "open")
    _case(session, licenses[0], "key_sharing", "low", "dismissed")  # not open: not counted
    session.commit()
    text = _page(client, make_staff)
    severity = _figure(text, "cases-by-severity")
    assert "<title>high: 2 cases</title>" in severity
    assert "<title>medium: 1 cases</title>" in severity
    assert "low" not in severity
    rule = _figure(text, "cases-by-rule")
    assert rule.index("seat_overuse: 2 cases") < rule.index("key_sharing: 1 cases")


def test_check_ins_per_day_sum_the_observations_of_30_days(
    client: FlaskClient, make_staff: MakeStaff, session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    _observe(session, license, 0, 24)
    _observe(session, license, 0, 6)
    _observe(session, license, 3, 5)
    _observe(session, license, 30, 99)  # the 31st day back: outside the chart
    _roll_up(session)
    chart = _figure(_page(client, make_staff), "check-ins")
    today, three_ago = utcnow().date(), (utcnow() - 3 * DAY).date()
    assert f"<title>{today.isoformat()}: 30 check-ins</title>" in chart
    assert f"<title>{three_ago.isoformat()}: 5 check-ins</title>" in chart
    assert chart.count('class="bar"') == 30
    assert f"{(utcnow() - 30 * DAY).date().isoformat()}:" not in chart


def test_active_instances_per_day_count_each_activation_once_a_day(
    client: FlaskClient, make_staff: MakeStaff, session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    first = _observe(session, license, 0, 24)
    # Two more observations of the same activation today (another IP, another version):
    # still one instance.
    _observe(session, license, 0, 3, first)
    _observe(session, license, 0, 1, first)
    _observe(session, license, 0, 2)  # a second activation today
    _observe(session, license, 2, 7, first)
    _observe(session, license, 30, 5, first)  # the 31st day back: outside the chart
    _roll_up(session)
    text = _page(client, make_staff)
    chart = _figure(text, "active-instances")
    today, two_ago = utcnow().date(), (utcnow() - 2 * DAY).date()
    assert 'aria-label="Active instances per day, last 30 days"' in chart
    assert f"<title>{today.isoformat()}: 2 instances</title>" in chart
    assert f"<title>{two_ago.isoformat()}: 1 instances</title>" in chart
    assert f"<title>{(utcnow() - DAY).date().isoformat()}: 0 instances</title>" in chart
    assert chart.count('class="point"') == 30
    assert f"{(utcnow() - 30 * DAY).date().isoformat()}:" not in chart
    # The same rows, summed, are the check-ins chart.
    assert f"<title>{today.isoformat()}: 30 check-ins</title>" in _figure(text, "check-ins")


def test_usage_per_day_reads_the_computed_days_and_when_they_were_computed(
    session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    one = _observe(session, license, 1, 4)
    _observe(session, license, 1, 6, one)
    _observe(session, license, 1, 1)
    session.flush()
    now = utcnow()
    yesterday = (now - DAY).date()
    usage_rollup.roll_up(session, first=yesterday, last=yesterday + DAY, now=now)
    usage = dashboard.usage_per_day(session, yesterday - 5 * DAY, yesterday + DAY)
    assert usage.days == {
        yesterday: dashboard.DayOfUsage(check_ins=11, active_instances=2),
        yesterday + DAY: dashboard.DayOfUsage(check_ins=0, active_instances=0),
    }
    assert usage.as_of == now
    # Days the job has not computed are left out, and with none there is no "as of".
    empty = dashboard.usage_per_day(session, yesterday - 5 * DAY, yesterday - DAY)
    assert empty == dashboard.UsagePerDay(days={}, as_of=None)


def test_before_the_first_rollup_the_dashboard_says_how_to_compute_the_figures(
    client: FlaskClient, make_staff: MakeStaff, session: Session, sealer: Sealer
) -> None:
    _observe(session, make_license(session, sealer).license, 0, 24)  # not rolled up
    session.commit()
    text = _page(client, make_staff)
    assert (
        '<p class="note" id="usage-empty">No usage figures yet: '
        "<code>licensing jobs run --only usage-rollup</code> computes them "
        "(run it with the other jobs).</p>"
    ) in text
    assert 'id="usage-as-of"' not in text
    assert "24 check-ins" not in _figure(text, "check-ins")


def test_the_figures_say_when_the_rollup_computed_them(
    client: FlaskClient, make_staff: MakeStaff, session: Session, sealer: Sealer
) -> None:
    _observe(session, make_license(session, sealer).license, 0, 24)
    computed = utcnow().replace(second=0, microsecond=0)
    _roll_up(session, computed)
    text = _page(client, make_staff)
    stamp = computed.strftime("%Y-%m-%d %H:%M")
    line = f"Figures as of {stamp} UTC, from the usage-rollup job."
    assert f'<p class="note" id="usage-as-of">{line}</p>' in text
    assert "usage-empty" not in text
    today = computed.date().isoformat()
    assert f"<title>{today}: 24 check-ins</title>" in _figure(text, "check-ins")


def test_days_the_rollup_has_not_computed_are_counted_under_the_charts(
    client: FlaskClient, make_staff: MakeStaff, session: Session
) -> None:
    today = utcnow().date()
    usage_rollup.roll_up(session, first=today - DAY, last=today, now=utcnow())
    session.commit()
    text = _page(client, make_staff)
    as_of = text.split('id="usage-as-of">')[1].split("</p>")[0]
    assert as_of.endswith(" 28 of the 30 days not computed yet (shown as 0).")


@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_the_dashboard_reads_no_usage_observation(
    client: FlaskClient,
    make_staff: MakeStaff,
    session: Session,
    sealer: Sealer,
    statements: list[str],
) -> None:
    _observe(session, make_license(session, sealer).license, 0, 24)
    _roll_up(session)
    make_staff()
    sign_in(client, "viewer@example.org")
    statements.clear()
    response = client.get("/staff/")
    assert response.status_code == 200
    assert "24 check-ins" in response.get_data(as_text=True)
    assert any("usage_days" in statement for statement in statements), statements
    assert not [s for s in statements if "usage_observations" in s]


def test_the_charts_carry_no_script(
    client: FlaskClient, make_staff: MakeStaff, session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    _case(session, license, "<script>alert(1)</script>", "high", "open")
    session.commit()
    text = _page(client, make_staff)
    assert "<script" not in text.lower()
    assert "&lt;script&gt;" in _figure(text, "cases-by-rule")
    assert not re.search(r"\son\w+=", text)  # no event handler attributes either


def test_licenses_and_upgrade_protection_ending_within_30_days(
    client: FlaskClient, make_staff: MakeStaff, session: Session, sealer: Sealer
) -> None:
    now = utcnow()
    soon = make_license(session, sealer, expires_at=now + 5 * DAY).license
    make_license(session, sealer, expires_at=now + 40 * DAY)  # beyond the window
    upgrade = make_license(session, sealer, upgrade_protection_until=now + 10 * DAY).license
    session.commit()
    text = _page(client, make_staff)
    expiring = text.split('id="expiring"')[1].split("</section>")[0]
    assert '<span class="figure">1</span>' in expiring
    assert str(soon.id) in expiring
    assert (now + 5 * DAY).strftime("%Y-%m-%d") in expiring
    ending = text.split('id="upgrades-ending"')[1].split("</section>")[0]
    assert '<span class="figure">1</span>' in ending
    assert str(upgrade.id) in ending and str(soon.id) not in ending


def test_signature_failures_of_the_last_24_hours_are_summed(
    client: FlaskClient, make_staff: MakeStaff, session: Session
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    for hours_ago, count in ((1, 3), (20, 4), (30, 50)):
        session.add(
            SignatureFailure(
                key_id="k" * 22, bucket_start=now - timedelta(hours=hours_ago), count=count
            )
        )
    session.commit()
    assert '<span class="figure" id="signature-failures">7</span>' in _page(client, make_staff)
