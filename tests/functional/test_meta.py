"""Operational endpoints: liveness, readiness, metrics and the published keys."""

from __future__ import annotations

import base64
import os
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from licensing import create_app
from licensing.crypto.sealing import Sealer, master_key_id
from licensing.services import server_keys
from tests.conftest import MASTER_KEY

REDIS_URL = os.environ.get("LICENSING_TEST_READINESS_REDIS_URL", "redis://127.0.0.1:6379/10")


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_with_the_schema_at_head(client: FlaskClient, server_key: str) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ready",
        "database": "ok",
        "migrations": "current",
        "master_key": {"id": master_key_id(base64.b64decode(MASTER_KEY))},
    }


def not_ready_detail(response: TestResponse) -> str:
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.json is not None
    assert response.json["code"] == "NOT_READY"
    detail: str = response.json["detail"]
    return detail


def test_readyz_refuses_without_a_signing_key(client: FlaskClient) -> None:
    assert "no server signing key" in not_ready_detail(client.get("/readyz"))


def test_readyz_refuses_when_redis_is_down(
    app: Flask, app_config: dict[str, Any], server_key: str
) -> None:
    # Port 1: nothing listens, so every check-in would fail on the replay store.
    down = create_app({**app_config, "LICENSING_REDIS_URL": "redis://127.0.0.1:1/0"})

    started = time.monotonic()
    detail = not_ready_detail(down.test_client().get("/readyz"))
    assert "Redis" in detail
    assert time.monotonic() - started < 5


def test_readyz_reports_redis_when_it_answers(
    app: Flask, app_config: dict[str, Any], server_key: str
) -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            raise  # CI has Redis: a missing server is a failure, not a skip
        pytest.skip(f"no Redis at {REDIS_URL}")
    up = create_app({**app_config, "LICENSING_REDIS_URL": REDIS_URL})

    response = up.test_client().get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json is not None
    assert response.json["redis"] == "ok"


def test_readyz_refuses_a_master_key_that_does_not_open_the_signing_key(
    app: Flask, app_config: dict[str, Any], server_key: str
) -> None:
    other = base64.b64encode(bytes(range(1, 33))).decode("ascii")
    # Shares the test's connection, so it sees the key sealed under the first master key.
    wrong = create_app({**app_config, "LICENSING_MASTER_KEY": other})

    detail = not_ready_detail(wrong.test_client().get("/readyz"))
    assert "master key (id " in detail
    assert "does not open the sealed data" in detail


def test_readyz_refuses_a_schema_at_another_revision(client: FlaskClient, session: Session) -> None:
    session.execute(text("UPDATE alembic_version SET version_num = 'somewhere_else'"))

    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.json is not None
    assert response.json["code"] == "NOT_READY"
    assert "latest migration" in response.json["detail"]


def healthz_count(client: FlaskClient) -> float:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            if sample.name == "licensing_http_requests_total" and sample.labels == {
                "method": "GET",
                "route": "/healthz",
                "status": "200",
            }:
                return sample.value
    return 0.0


def test_metrics_count_requests_by_route(client: FlaskClient) -> None:
    before = healthz_count(client)
    client.get("/healthz")
    assert healthz_count(client) == before + 1


def test_jwks_publishes_the_signing_key(
    client: FlaskClient, session: Session, sealer: Sealer, actor: str
) -> None:
    key = server_keys.ensure_active_key(session, sealer, actor=actor)

    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json == server_keys.jwks(session)
    assert [jwk["kid"] for jwk in response.json["keys"]] == [key.kid]
    assert "max-age=300" in response.headers["Cache-Control"]
