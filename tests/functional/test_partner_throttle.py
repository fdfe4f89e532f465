"""Failed partner authentications throttle the client address (429 with Retry-After).

The address is the one ``LICENSING_TRUSTED_PROXY_HOPS`` believes; here one proxy hop,
so each test speaks from the addresses it puts in X-Forwarded-For. The counters are
shared by every worker (tests/interop/test_partner_rate_limits.py runs two).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import create_app
from licensing.api import ratelimits
from licensing.crypto.sealing import Sealer
from licensing.errors import ConfigError
from licensing.models import Product, RateLimitCounter
from licensing.storage import rate_counters
from tests import factories
from tests.functional.metrics_scrape import scrape
from tests.functional.partner_client import PartnerApi, problem, register

LIMIT = 3
GUESSER = "203.0.113.7"
BYSTANDER = "198.51.100.9"


@pytest.fixture
def guarded(app: Flask, app_config: dict[str, Any]) -> Iterator[Flask]:
    """An app behind one trusted proxy that throttles an address after three failures."""
    guarded = create_app(
        {
            **app_config,
            "LICENSING_TRUSTED_PROXY_HOPS": "1",
            "LICENSING_PARTNER_AUTH_FAILURE_LIMIT": f"{LIMIT}/minute",
        }
    )
    with guarded.app_context():
        yield guarded


@pytest.fixture
def seller(guarded: Flask, session: Session, sealer: Sealer, product: Product) -> PartnerApi:
    return register(guarded.test_client(), session, sealer, products=[product])


@pytest.fixture
def license_key(session: Session, sealer: Sealer, product: Product) -> str:
    issued = factories.make_license(
        session, sealer, edition=factories.make_edition(session, product=product)
    )
    session.commit()
    return issued.key.display


def bearer(token: str, address: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Forwarded-For": address}


def wrong_secret(api: PartnerApi) -> str:
    _, key_id, _ = api.token.split("_", 2)
    return f"lpk_{key_id}_{'A' * 43}"


def failures(guarded: Flask) -> dict[str, float]:
    with guarded.test_client() as client:
        return scrape(client, "licensing_partner_auth_failures_total", "reason") | {
            "throttled": scrape(client, "licensing_partner_auth_throttled_total").get("", 0.0)
        }


def test_an_address_is_refused_after_the_limits_failures_whatever_key_it_then_shows(
    guarded: Flask, seller: PartnerApi, license_key: str
) -> None:
    before = failures(guarded)

    refused = [
        seller.check(license_key, headers=bearer(wrong_secret(seller), GUESSER))
        for _ in range(LIMIT)
    ]
    throttled = seller.check(license_key, headers=bearer(wrong_secret(seller), GUESSER))
    right_key_from_guesser = seller.check(license_key, headers=bearer(seller.token, GUESSER))
    right_key_elsewhere = seller.check(license_key, headers=bearer(seller.token, BYSTANDER))

    for response in refused:
        problem(response, 401, "UNAUTHENTICATED")
    for response in (throttled, right_key_from_guesser):
        body = problem(response, 429, "RATE_LIMITED")
        assert body["type"] == "/problems/rate-limited"
        assert "failed authentications from this address" in body["detail"]
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert "RateLimit-Limit" not in response.headers  # no key's window was counted
        assert "WWW-Authenticate" not in response.headers
    assert right_key_elsewhere.status_code == 200, right_key_elsewhere.get_data(as_text=True)
    assert right_key_elsewhere.json["license"]["valid"] is True  # type: ignore[index]
    after = failures(guarded)
    assert after.get("invalid", 0) - before.get("invalid", 0) == LIMIT
    assert after["throttled"] - before["throttled"] == 2


def test_every_kind_of_failure_counts_and_successes_do_not(
    guarded: Flask, seller: PartnerApi, license_key: str, session: Session, sealer: Sealer
) -> None:
    revoked = factories.make_partner_key(session, sealer, partner=seller.partner)
    revoked.key.revoked_at = revoked.key.created_at
    session.commit()
    before = failures(guarded)

    for _ in range(LIMIT + 2):  # answered keys are no failures
        assert seller.check(license_key, headers=bearer(seller.token, GUESSER)).status_code == 200
    problem(seller.check(license_key, headers={"X-Forwarded-For": GUESSER}), 401, "UNAUTHENTICATED")
    problem(
        seller.check(license_key, headers=bearer(revoked.token, GUESSER)), 401, "UNAUTHENTICATED"
    )
    problem(
        seller.check(license_key, headers=bearer("lpk_nonsense", GUESSER)), 401, "UNAUTHENTICATED"
    )
    problem(seller.check(license_key, headers=bearer(seller.token, GUESSER)), 429, "RATE_LIMITED")

    after = failures(guarded)
    deltas = {reason: after[reason] - before.get(reason, 0) for reason in after}
    deltas = {reason: delta for reason, delta in deltas.items() if delta}
    assert deltas == {"missing": 1, "revoked": 1, "malformed": 1, "throttled": 1}, deltas


def test_a_forbidden_address_is_no_authentication_failure(
    guarded: Flask, session: Session, sealer: Sealer, product: Product, license_key: str
) -> None:
    fenced = register(
        guarded.test_client(), session, sealer, products=[product], allowed_networks=[BYSTANDER]
    )

    for _ in range(LIMIT + 1):
        problem(fenced.check(license_key, headers=bearer(fenced.token, GUESSER)), 403, "FORBIDDEN")
    answered = fenced.check(license_key, headers=bearer(fenced.token, BYSTANDER))

    assert answered.status_code == 200, answered.get_data(as_text=True)


def test_the_address_is_answered_again_when_the_window_ends(
    guarded: Flask, seller: PartnerApi, license_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(LIMIT):
        seller.check(license_key, headers=bearer(wrong_secret(seller), GUESSER))
    problem(seller.check(license_key, headers=bearer(seller.token, GUESSER)), 429, "RATE_LIMITED")

    later = rate_counters.clock() + 61
    monkeypatch.setattr(rate_counters, "clock", lambda: later)

    assert seller.check(license_key, headers=bearer(seller.token, GUESSER)).status_code == 200


def test_the_counters_hold_no_client_address(
    guarded: Flask, seller: PartnerApi, license_key: str
) -> None:
    seller.check(license_key, headers=bearer(wrong_secret(seller), GUESSER))

    with ratelimits._counters_engine().connect() as connection:
        names = list(connection.scalars(select(RateLimitCounter.name)))

    assert any("partner-auth-failures" in name for name in names), names
    assert not any(GUESSER in name for name in names), names


def test_the_failure_limit_must_be_a_rate_limit(app_config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="LICENSING_PARTNER_AUTH_FAILURE_LIMIT"):
        create_app({**app_config, "LICENSING_PARTNER_AUTH_FAILURE_LIMIT": "many"})


def test_the_embedded_counters_file_is_the_owners_alone(tmp_path: Path) -> None:
    path = tmp_path / ratelimits.COUNTERS_FILE
    previous = os.umask(0o002)
    try:
        engine = ratelimits._counters_file.__wrapped__(path)  # not the cached one
        storage = rate_counters.DatabaseCounters(engine=lambda: engine, create_table=True)
        storage.incr("LIMITER/test/umask", 60)
    finally:
        os.umask(previous)

    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes and set(modes.values()) == {0o600}, modes
    engine.dispose()
