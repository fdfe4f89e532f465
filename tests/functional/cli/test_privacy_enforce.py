"""``licensing privacy enforce`` and the ``privacy-enforce`` job, on real check-ins.

Instances check in today; enforcing "as of" 31 days from now makes their usage past
its raw period (30 days by default), as a run next month would find it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.cli.privacy import _BatchCommits
from licensing.models import Activation, AuditEvent, HoldScope, LegalHold, UsageObservation
from licensing.services.retention import Step
from licensing.timeutil import utcnow
from tests.clock import Clock
from tests.functional.cli.invoke import Licensing
from tests.functional.instance_client import Answer, Instance, Licensed

PROXY = "192.0.2.10"
# Six /24 networks and one /48: more than the default network_spread_networks (5).
SITES = [f"203.0.{n}.7" for n in range(1, 7)] + ["2001:db8:42::7"]


def _next_month() -> str:
    return (utcnow() + timedelta(days=31)).date().isoformat()


def _from(instance: Instance, address: str, path: str, body: dict[str, Any]) -> Answer:
    signed = instance.signed("POST", path, body)
    return instance.deliver(signed, headers={**signed.headers, "X-Forwarded-For": address})


def _checked_in_from_many_networks(
    proxied_app: Flask, licensed: Licensed, session: Session
) -> Instance:
    instance = Instance(
        client=proxied_app.test_client(), licensed=licensed, environ={"REMOTE_ADDR": PROXY}
    )
    activated = _from(instance, SITES[0], "/v1/instance/activations", instance.activation_body())
    assert activated.status == 201
    for address in SITES:
        answer = _from(instance, address, "/v1/instance/check-ins", instance.check_in_body())
        assert (answer.status, answer.code) == (200, "VALID")
    session.commit()
    return instance


def _observations(session: Session, licensed: Licensed) -> list[UsageObservation]:
    session.expire_all()
    return list(
        session.scalars(
            select(UsageObservation).where(UsageObservation.license_id == licensed.license.id)
        )
    )


NOTHING = {step.value: 0 for step in Step}


def test_enforce_json_counts_per_category_and_pseudonymises_the_usage(
    proxied_app: Flask, licensed: Licensed, licensing: Licensing, session: Session
) -> None:
    _checked_in_from_many_networks(proxied_app, licensed, session)
    seen = _observations(session, licensed)
    assert len(seen) == len(SITES) and all(o.ip and o.server_name for o in seen)

    report = licensing.json("privacy", "enforce", "--as-of", _next_month())

    assert report["dry_run"] is False
    assert report["counts"] == {
        **NOTHING,
        "usage_pseudonymised": len(SITES),
        "activation_server_names_cleared": 1,
    }
    assert report["kept_by_hold"] == NOTHING
    assert {(k["table"], k["column"]) for k in report["kept"]} >= {("activations", "fingerprint")}
    after = _observations(session, licensed)
    assert all(o.ip is None and o.server_name is None for o in after)
    assert all(o.ip_hash and o.server_name_hash and o.ip_prefix for o in after)
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert event.action == "privacy.retention_enforced"
    assert event.actor.startswith("cli:")
    # Counts only: no address or server name of the rows it changed.
    assert not any(site in str(event.data) for site in SITES)
    assert licensing.json("privacy", "enforce", "--as-of", _next_month())["counts"] == NOTHING


def test_dry_run_counts_and_changes_nothing(
    proxied_app: Flask, licensed: Licensed, licensing: Licensing, session: Session
) -> None:
    _checked_in_from_many_networks(proxied_app, licensed, session)
    events = len(session.scalars(select(AuditEvent.seq)).all())

    dry = licensing.json("privacy", "enforce", "--dry-run", "--as-of", _next_month())
    text = licensing.ok("privacy", "enforce", "--dry-run", "--as-of", _next_month())

    assert dry["dry_run"] is True
    assert dry["counts"]["usage_pseudonymised"] == len(SITES)
    assert "WOULD CHANGE" in text and "usage_pseudonymised" in text
    assert "kept activations.fingerprint" in text
    assert all(o.ip is not None for o in _observations(session, licensed))
    assert len(session.scalars(select(AuditEvent.seq)).all()) == events
    real = licensing.json("privacy", "enforce", "--as-of", _next_month())
    assert real["counts"] == dry["counts"]


def test_misuse_rules_still_fire_on_pseudonymised_usage(
    proxied_app: Flask, licensed: Licensed, licensing: Licensing, session: Session
) -> None:
    _checked_in_from_many_networks(proxied_app, licensed, session)
    licensing.json("privacy", "enforce", "--as-of", _next_month())
    assert all(o.ip is None for o in _observations(session, licensed))

    scanned = licensing.json("misuse", "scan")

    assert scanned["findings"]["NETWORK_SPREAD"] == 1
    cases = licensing.json("misuse", "cases")
    assert [c["rule"] for c in cases if c["rule"] == "NETWORK_SPREAD"] == ["NETWORK_SPREAD"]


def test_an_instance_whose_server_name_was_cleared_is_still_verified(
    proxied_app: Flask, licensed: Licensed, licensing: Licensing, session: Session
) -> None:
    instance = _checked_in_from_many_networks(proxied_app, licensed, session)
    licensing.json("privacy", "enforce", "--as-of", _next_month())
    session.expire_all()
    activation = session.scalars(
        select(Activation).where(Activation.license_id == licensed.license.id)
    ).one()
    assert activation.server_name is None

    answer = _from(instance, SITES[0], "/v1/instance/check-ins", instance.check_in_body())

    assert (answer.status, answer.code) == (200, "VALID")
    session.expire_all()
    assert activation.server_name == instance.server_name  # reported again


def test_bad_as_of_is_a_usage_error(licensing: Licensing) -> None:
    result = licensing.run("privacy", "enforce", "--as-of", "1 June")

    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output or "%Y-%m-%d" in result.output


def test_the_job_runs_in_jobs_run(licensing: Licensing) -> None:
    assert "privacy-enforce" in licensing.ok("jobs", "run", "--help")
    listed = licensing.json("jobs", "run", "--only", "privacy-enforce")
    assert listed == [{"job": "privacy-enforce", "affected": 0}]
    assert "privacy-enforce" in [row["job"] for row in licensing.json("jobs", "run")]


def test_the_progress_bar_advances_by_the_rows_of_each_batch() -> None:
    bar = _BatchCommits(show=True)
    bar.started({Step.USAGE_PSEUDONYMISED: 3, Step.USAGE_DELETED: 2})
    bar.batch_done(Step.USAGE_PSEUDONYMISED, 3)
    bar.batch_done(Step.USAGE_DELETED, 2)

    assert (bar.bar.length, bar.bar.pos) == (5, 5)
    bar.close()
    nothing_due = _BatchCommits(show=True)
    nothing_due.started(dict.fromkeys(Step, 0))
    assert nothing_due.bar is None


def test_a_held_license_is_counted_as_kept_by_hold_in_the_text_and_json(
    proxied_app: Flask, licensed: Licensed, licensing: Licensing, session: Session
) -> None:
    _checked_in_from_many_networks(proxied_app, licensed, session)
    session.add(
        LegalHold(
            scope=HoldScope.LICENSE.value,
            license_id=licensed.license.id,
            matter="matter",
            reason="a claim",
            review_on=utcnow().date() + timedelta(days=90),
            placed_by="test:pytest",
        )
    )
    session.commit()

    report = licensing.json("privacy", "enforce", "--dry-run", "--as-of", _next_month())
    text = licensing.ok("privacy", "enforce", "--dry-run", "--as-of", _next_month())

    assert report["counts"]["usage_pseudonymised"] == 0
    assert report["kept_by_hold"]["usage_pseudonymised"] == len(SITES)
    assert "KEPT BY HOLD" in text
    row = next(line for line in text.splitlines() if line.startswith("usage_pseudonymised"))
    assert row.split()[1:] == ["0", str(len(SITES))]


def test_audit_verify_says_what_retention_pruned(
    proxied_app: Flask,
    licensed: Licensed,
    licensing: Licensing,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _checked_in_from_many_networks(proxied_app, licensed, session)
    # Audit events go once past their period at the time of the run: three years on.
    Clock(monkeypatch, utcnow() + timedelta(days=3 * 365))

    report = licensing.json("privacy", "enforce")
    verified = licensing.json("audit", "verify")

    assert report["counts"]["audit_events_pruned"] > 0
    assert verified["intact"] is True
    last = report["counts"]["audit_events_pruned"]
    assert verified["pruned"].startswith(f"events 1 to {last} on ")
