"""Every error is problem+json carrying the request id (PROTOCOL.md §7)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from licensing import create_app
from licensing.crypto.sealing import SealBroken
from licensing.errors import ConfigError, Conflict

MEMBERS = {"type", "title", "status", "detail", "code", "request_id"}


def problem(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert isinstance(body, dict)
    assert set(body) >= MEMBERS
    assert body["status"] == status
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


def test_not_found(client: FlaskClient) -> None:
    body = problem(client.get("/no/such/page"), 404)
    assert (body["code"], body["type"]) == ("NOT_FOUND", "/problems/not-found")


def test_method_not_allowed(client: FlaskClient) -> None:
    response = client.post("/healthz")
    body = problem(response, 405)
    assert body["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response.headers["Allow"]


class Boom(Exception):
    pass


@pytest.fixture
def failing_app(app_config: dict[str, Any]) -> Flask:
    """An app of its own: routes cannot be added to one that has served requests."""
    app = create_app(app_config)

    def crash() -> str:
        raise Boom("secret internals: password=hunter2")

    def conflict() -> str:
        raise Conflict("product 'mail' already exists")

    def misconfigured() -> str:
        raise ConfigError("LICENSING_MASTER_KEY leaked detail")

    app.add_url_rule("/boom", view_func=crash)
    app.add_url_rule("/conflict", view_func=conflict)

    def seal_broken() -> str:
        raise SealBroken("the master key opens no sealed value")

    app.add_url_rule("/misconfigured", view_func=misconfigured)
    app.add_url_rule("/seal-broken", view_func=seal_broken)
    return app


def test_an_unexpected_error_is_a_500_without_its_text(
    failing_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    response = failing_app.test_client().get("/boom")
    body = problem(response, 500)
    assert body["code"] == "INTERNAL_ERROR"
    assert "hunter2" not in response.get_data(as_text=True)
    assert "Boom" not in response.get_data(as_text=True)
    assert any(record.exc_info and record.exc_info[0] is Boom for record in caplog.records)


def test_a_domain_error_keeps_its_status_code_and_detail(failing_app: Flask) -> None:
    body = problem(failing_app.test_client().get("/conflict"), 409)
    assert (body["code"], body["detail"]) == ("CONFLICT", "product 'mail' already exists")


GENERIC = {
    "type": "/problems/internal-error",
    "title": "Internal server error",
    "detail": "The server could not complete the request.",
    "code": "INTERNAL_ERROR",
}


@pytest.mark.parametrize(
    ("path", "code"),
    [("/misconfigured", "CONFIGURATION_ERROR"), ("/seal-broken", "SEAL_BROKEN")],
)
def test_a_server_side_domain_error_is_the_generic_500(
    failing_app: Flask, caplog: pytest.LogCaptureFixture, path: str, code: str
) -> None:
    response = failing_app.test_client().get(path)
    body = problem(response, 500)
    assert {member: body[member] for member in GENERIC} == GENERIC
    assert "LICENSING_MASTER_KEY" not in response.get_data(as_text=True)
    assert "seal" not in response.get_data(as_text=True).lower()
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and code in r.getMessage()]
    assert logged, "the operator still learns which failure it was"
