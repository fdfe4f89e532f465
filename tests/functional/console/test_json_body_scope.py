"""The edge's "a body is JSON or nothing" rule holds for the API and only for the API.

Which requests it applies to is decided by the blueprint routed to (one built with
``licensing.api.edge.Blueprint``), not by a path prefix: the console's HTML forms pass,
and an API blueprint is checked wherever it is mounted.
"""

from __future__ import annotations

from typing import Any

import flask
from flask import Flask
from flask.testing import FlaskClient

from licensing import create_app
from licensing.api import edge
from tests.functional.console.conftest import MakeStaff, csrf_token, sign_in

FORM = "application/x-www-form-urlencoded"


def test_an_api_route_refuses_a_form_body(client: FlaskClient, server_key: str) -> None:
    # server_key: an instance route's answer, a refusal too, is signed.
    for path in ("/v1/instance/activations", "/v1/partner/license-checks"):
        reply = client.post(path, data="license_key=x", content_type=FORM)
        assert reply.status_code == 415, (path, reply.get_data(as_text=True))
        assert reply.mimetype == "application/problem+json"
        assert "application/json" in reply.get_json()["detail"]


def test_a_console_form_is_not_refused_as_not_json(
    client: FlaskClient, make_staff: MakeStaff
) -> None:
    make_staff("analyst")
    signed_in = sign_in(client, "analyst@example.org")
    assert signed_in.status_code == 303, signed_in.get_data(as_text=True)
    home = client.get("/staff/")
    out = client.post("/staff/logout", data={"csrf_token": csrf_token(home)}, content_type=FORM)
    assert out.status_code == 303


def test_every_api_route_is_on_a_blueprint_the_check_knows(app: Flask) -> None:
    api_rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/v1/")]
    assert api_rules
    for rule in api_rules:
        owner = app.blueprints[rule.endpoint.split(".")[0]]
        assert isinstance(owner, edge.Blueprint), rule.rule
    assert not isinstance(app.blueprints["console"], edge.Blueprint)


def test_the_scope_is_the_blueprint_not_the_path(app_config: dict[str, Any]) -> None:
    """An API blueprint under /staff/ is checked; a plain one under /v1/ is not."""
    app = create_app(app_config)
    api_like = edge.Blueprint("probe_api", __name__, url_prefix="/staff/probe-api")
    plain = flask.Blueprint("probe_plain", __name__, url_prefix="/v1/probe-plain")

    @api_like.route("/echo", methods=["POST"])
    def api_echo() -> str:
        return "read"

    @plain.route("/echo", methods=["POST"])
    def plain_echo() -> str:
        return "read"

    app.register_blueprint(api_like)
    app.register_blueprint(plain)
    client = app.test_client()
    refused = client.post("/staff/probe-api/echo", data="a=b", content_type=FORM)
    assert refused.status_code == 415
    assert client.post("/v1/probe-plain/echo", data="a=b", content_type=FORM).data == b"read"
    taken = client.post("/staff/probe-api/echo", data=b'{"a": 1}', content_type="application/json")
    assert taken.data == b"read"
