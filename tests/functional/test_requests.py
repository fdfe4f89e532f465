"""Request ids are echoed or replaced, and logs never carry a license key."""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from licensing.api.ratelimits import limiter
from licensing.crypto import license_keys
from licensing.logs import RedactLicenseKeys
from tests.functional.instance_client import Instance


@pytest.mark.parametrize("given", ["req-0123456789", "A1B2C3D4", "trace.id_42-" + "x" * 52])
def test_a_well_formed_request_id_is_echoed(client: FlaskClient, given: str) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": given})
    assert response.headers["X-Request-Id"] == given


@pytest.mark.parametrize("given", ["short", "has spaces in it", "x" * 65, "semi;colon12", "é" * 10])
def test_a_malformed_request_id_is_replaced(client: FlaskClient, given: str) -> None:
    response = client.get("/no/such/page", headers={"X-Request-Id": given})
    replaced = response.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    assert response.json is not None
    assert response.json["request_id"] == replaced


def test_every_request_gets_its_own_id(client: FlaskClient) -> None:
    ids = {client.get("/healthz").headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3


def test_one_redacting_handler_is_installed(client: FlaskClient) -> None:
    handlers = [h for h in logging.getLogger().handlers if h.get_name() == "licensing"]
    assert len(handlers) == 1
    assert any(isinstance(f, RedactLicenseKeys) for f in handlers[0].filters)


def test_logs_never_contain_a_license_key(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    key = license_keys.generate()
    caplog.set_level(logging.INFO)

    client.get(f"/v1/licenses/{key.display}", headers={"X-Request-Id": "key-in-the-path"})
    logging.getLogger("licensing.somewhere").warning("a customer pasted %s", key.display)
    logging.getLogger("third.party").error(f"raw key {key.normalised.lower()} in a message")

    assert caplog.records, "nothing was logged"
    assert any(record.getMessage() == "request" for record in caplog.records)
    for spelling in (key.normalised, key.display, key.normalised.lower()):
        assert spelling not in caplog.text
        assert all(spelling not in record.getMessage() for record in caplog.records)
    messages = {record.name: record.getMessage() for record in caplog.records}
    assert messages["licensing.somewhere"] == "a customer pasted [redacted-key]"
    assert messages["third.party"] == "raw key [redacted-key] in a message"


def test_a_request_without_the_session_cookie_builds_no_cookie_signer(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("the session's signing serializer was built")

    monkeypatch.setattr(app.session_interface, "get_signing_serializer", refuse)
    assert client.get("/healthz").status_code == 200


def test_a_session_cookie_is_still_read(app: Flask) -> None:
    interface = app.session_interface
    signed = interface.get_signing_serializer(app).dumps({"seen": 1})  # type: ignore[attr-defined]
    name = interface.get_cookie_name(app)
    with app.test_request_context(headers={"Cookie": f"{name}={signed}"}) as context:
        opened = interface.open_session(app, context.request)
    assert opened is not None
    assert dict(opened) == {"seen": 1}


def test_rate_limits_are_evaluated_for_partner_requests_only(
    client: FlaskClient, instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluated: list[str] = []

    def identify() -> str:
        evaluated.append(request.path)
        raise RuntimeError("the limiter ran")

    monkeypatch.setattr(limiter, "identify_request", identify)
    assert client.get("/healthz").status_code == 200
    assert instance.activate().status == 201
    assert instance.check_in().code == "VALID"
    assert evaluated == []
    assert client.get("/v1/partner/products/x/releases").status_code == 500
    assert evaluated == ["/v1/partner/products/x/releases"]
