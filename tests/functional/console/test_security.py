"""The console's protections: CSRF on its forms only, roles on the server, headers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Blueprint, Flask, g
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing import create_app
from licensing.console import auth
from licensing.console.blueprint import bp as console_bp
from licensing.console.security import CONTENT_SECURITY_POLICY
from licensing.crypto.sealing import Sealer
from licensing.models import AuditEvent, Product, StaffRole
from tests.functional.console.conftest import PASSWORD, MakeStaff, csrf_token, sign_in
from tests.functional.instance_client import Instance
from tests.functional.partner_client import register

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def _assert_headers(response: Any) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status_code)
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_every_console_response_carries_the_security_headers(
    client: FlaskClient, make_staff: MakeStaff
) -> None:
    make_staff()
    _assert_headers(client.get("/staff/login"))
    _assert_headers(client.get("/staff/"))  # the redirect to sign in
    _assert_headers(client.post("/staff/login", data={}))  # the CSRF refusal
    with client.get("/staff/static/console.css") as stylesheet:
        _assert_headers(stylesheet)
    sign_in(client, "viewer@example.org")
    home = client.get("/staff/")
    _assert_headers(home)
    assert "no-store" in home.headers["Cache-Control"]


def test_pages_load_nothing_from_another_origin(client: FlaskClient, make_staff: MakeStaff) -> None:
    make_staff()
    sign_in(client, "viewer@example.org")
    for path in ("/staff/login", "/staff/"):
        text = client.get(path).get_data(as_text=True)
        links = re.findall(r'(?:src|href|action)="([^"]*)"', text)
        assert links, path
        for link in links:
            if link.startswith("#"):
                continue  # a place in the same page (the skip link): nothing is loaded
            assert link.startswith("/staff/") and not link.startswith("//"), (path, link)
        assert "<script" not in text and "style=" not in text and "<style" not in text


def test_the_session_cookie_is_secure_by_default(app_config: dict[str, Any]) -> None:
    app_config = {k: v for k, v in app_config.items() if k != "LICENSING_CONSOLE_SECURE_COOKIE"}
    served = create_app(app_config)
    cookie = served.test_client().get("/staff/login").headers["Set-Cookie"]
    assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_form_without_its_csrf_token_is_refused_with_a_page(
    client: FlaskClient, make_staff: MakeStaff, session: Session
) -> None:
    make_staff()
    events = session.scalar(select(func.count()).select_from(AuditEvent))

    response = client.post(
        "/staff/login", data={"email": "viewer@example.org", "password": "wrong password"}
    )

    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "did not come from this site" in response.get_data(as_text=True)
    # Refused before any password was checked: no failure counted, nothing audited.
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_signing_out_without_the_token_is_refused_and_the_session_stays(
    client: FlaskClient, make_staff: MakeStaff
) -> None:
    make_staff()
    sign_in(client, "viewer@example.org")
    assert client.post("/staff/logout").status_code == 400
    assert client.post("/staff/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/staff/").status_code == 200


def test_a_token_of_another_session_is_refused(
    client: FlaskClient, app: Flask, make_staff: MakeStaff
) -> None:
    make_staff()
    other = app.test_client()
    stolen = csrf_token(other.get("/staff/login"))
    g.pop("csrf_token", None)  # the test's shared context must not carry the other's token
    response = client.post(
        "/staff/login",
        data={"email": "viewer@example.org", "password": PASSWORD, "csrf_token": stolen},
    )
    assert response.status_code == 400


def test_the_partner_api_needs_no_csrf_token(
    client: FlaskClient, session: Session, sealer: Sealer, product: Product
) -> None:
    seller = register(client, session, sealer, products=[product])
    response = seller.check("LK-not-a-real-key")
    assert response.status_code in (404, 422), response.get_data(as_text=True)
    assert "csrf" not in response.get_data(as_text=True).lower()


def test_the_instance_api_needs_no_csrf_token(instance: Instance) -> None:
    answer = instance.activate()
    assert answer.status == 201, answer.body


def test_every_console_view_declares_its_role(app: Flask) -> None:
    """requires(role) or public, once per view: a view with neither fails here."""
    views = {
        rule.endpoint: app.view_functions[rule.endpoint]
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("console.") and rule.endpoint != "console.static"
    }
    assert {"console.sign_in", "console.sign_out", "console.home"} <= set(views)
    declared = {name: getattr(view, "required_role", "missing") for name, view in views.items()}
    assert "missing" not in declared.values(), declared
    assert declared["console.sign_in"] is None
    assert declared["console.home"] is StaffRole.VIEWER


@pytest.fixture
def probe_client(app: Flask, app_config: dict[str, Any]) -> FlaskClient:
    """An app with one analyst action beside the console, guarded as console views are.

    The console's own analyst and admin actions come with its next pages; this holds
    ``requires`` to refusing a forged POST on the server until they do.
    """
    probe = Blueprint("probe", __name__, url_prefix="/staff/probe")
    probe.before_request(console_bp.before_request_funcs[None][0])  # the CSRF check

    @probe.route("/cases/confirm", methods=["POST"])
    @auth.requires(StaffRole.ANALYST)
    def confirm() -> str:
        return "confirmed"

    probed = create_app(app_config)
    probed.register_blueprint(probe)
    return probed.test_client()


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("analyst", 200), ("admin", 200)])
def test_a_forged_post_beyond_the_role_is_refused(
    probe_client: FlaskClient, make_staff: MakeStaff, role: str, status: int
) -> None:
    make_staff(role)
    sign_in(probe_client, f"{role}@example.org")
    token = csrf_token(probe_client.get("/staff/"))

    response = probe_client.post("/staff/probe/cases/confirm", data={"csrf_token": token})

    assert response.status_code == status
    if status == 403:
        assert "confirmed" not in response.get_data(as_text=True)


def test_a_post_without_a_session_does_nothing(probe_client: FlaskClient) -> None:
    response = probe_client.post("/staff/probe/cases/confirm")
    assert response.status_code == 400  # no token: refused before the role is even asked
