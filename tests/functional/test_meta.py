"""Operational endpoints: liveness, readiness, metrics and the published keys."""

from __future__ import annotations

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.services import server_keys


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_with_the_schema_at_head(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "database": "ok", "migrations": "current"}


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
