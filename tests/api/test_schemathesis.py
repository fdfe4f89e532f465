"""Every operation of ``/openapi.json``, fuzzed by schemathesis: the document tells the truth.

No answer is a 5xx, every status is documented, and every answer conforms to the schema
documented for its status. Partner operations are called with a seeded API key (so that
they get past authentication); instance operations need RFC 9421 signatures that
schemathesis cannot make, so they answer 401, which must be documented and conform too.
"""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis import CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from licensing import create_app
from licensing.crypto import license_keys
from licensing.crypto.sealing import Sealer
from licensing.services import partners, server_keys
from tests import factories
from tests.conftest import MASTER_KEY, SECRET_KEY


def status_code_listed(ctx: CheckContext, response: Response, case: schemathesis.Case) -> None:
    """The status is listed for the operation itself, not only covered by ``default``.

    (Every operation documents ``default``, which would let any status pass
    ``status_code_conformance``.) Probes with a method the path does not have are
    answered 405, which ``default`` documents.
    """
    if case.method.upper() != case.operation.method.upper():
        return
    listed = {code for code in case.operation.responses.status_codes if code != "default"}
    assert str(response.status_code) in listed, (
        f"{case.operation.label} answered {response.status_code}, which it does not list "
        f"(it lists {sorted(listed)})"
    )


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    status_code_listed,
    content_type_conformance,
    response_schema_conformance,
]
# The example key of the documented request body: the seeded license has it, so the
# examples phase reaches a 200 answer.
EXAMPLE_KEY = "6E86N-JY2MX-K1WS8-JMXTQ-EHXDK"


def _document_app() -> Flask:
    """An app that only serves the OpenAPI document (it never touches its database)."""
    return create_app(
        {
            "LICENSING_DATABASE_URL": "sqlite://",
            "LICENSING_MASTER_KEY": MASTER_KEY,
            "LICENSING_SECRET_KEY": SECRET_KEY,
            "LICENSING_INSTANCE_PATH": tempfile.gettempdir(),
            "LICENSING_LOG_JSON": "false",
            "TESTING": True,
        }
    )


schema = schemathesis.openapi.from_wsgi("/openapi.json", _document_app())


@pytest.fixture
def seeded(
    app: Flask, session: Session, sealer: Sealer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """A partner registered for a product with releases, its key, and a license.

    And the server's signing key, which ``licensing serve`` makes before it serves.
    """
    server_keys.ensure_active_key(session, sealer, actor="test:pytest")
    product = factories.make_product(session)
    for version in ("1.0.0", "2.0.0"):
        factories.make_release(session, product=product, version=version)
    partner = factories.make_partner(session, products=[product], rate_limit="100000/minute")
    issued = factories.make_partner_key(session, sealer, partner=partner)
    with monkeypatch.context() as patched:
        patched.setattr(license_keys, "generate", lambda: license_keys.parse(EXAMPLE_KEY))
        factories.make_license(
            session, sealer, edition=factories.make_edition(session, product=product)
        )
    session.commit()
    return {"product": product, "authorization": f"Bearer {issued.token}"}


def headers_for(case: schemathesis.Case, seeded: dict[str, Any]) -> dict[str, str]:
    if case.path.startswith("/v1/partner/"):
        return {"Authorization": seeded["authorization"]}
    return {}


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_answers_as_documented(
    case: schemathesis.Case, app: Flask, seeded: dict[str, Any]
) -> None:
    case.call_and_validate(app=app, headers=headers_for(case, seeded), checks=CHECKS)


CHECK_PATH, RELEASES_PATH = "/v1/partner/license-checks", "/v1/partner/products/{code}/releases"
TARGETED = {
    "license": (CHECK_PATH, "POST", {"body": {"license_key": EXAMPLE_KEY}}, 200),
    "license and upgrade": (
        CHECK_PATH,
        "POST",
        {"body": {"license_key": EXAMPLE_KEY, "target_version": "2.0.0"}},
        200,
    ),
    "unknown license": (
        CHECK_PATH,
        "POST",
        {"body": {"license_key": license_keys.generate().display}},
        404,
    ),
    "malformed license key": (CHECK_PATH, "POST", {"body": {"license_key": EXAMPLE_KEY[:-1]}}, 422),
    "releases": (RELEASES_PATH, "GET", {"path_parameters": {"code": "{product}"}}, 200),
    "unknown product": (RELEASES_PATH, "GET", {"path_parameters": {"code": "nope"}}, 404),
}


@pytest.mark.parametrize("name", TARGETED)
def test_partner_answers_conform(app: Flask, seeded: dict[str, Any], name: str) -> None:
    """The answers random input rarely reaches: 200s, and 404s for real-looking input."""
    path, method, values, status = TARGETED[name]
    if values.get("path_parameters", {}).get("code") == "{product}":
        values = {"path_parameters": {"code": seeded["product"].code}}
    case = schema[path][method].Case(**values)

    response = case.call_and_validate(
        app=app, headers={"Authorization": seeded["authorization"]}, checks=CHECKS
    )

    assert response.status_code == status


def test_every_refusal_of_a_partner_conforms(
    app: Flask, seeded: dict[str, Any], session: Session, actor: str
) -> None:
    """401, 403 and 429 are documented, and their problems conform."""
    operation = schema["/v1/partner/license-checks"]["POST"]
    body = {"license_key": EXAMPLE_KEY}
    statuses = []

    statuses.append(operation.Case(body=body).call_and_validate(app=app, checks=CHECKS))
    key = factories.make_partner_key(
        session, app.extensions["licensing"].sealer, scopes=["releases:read"]
    )
    session.commit()
    statuses.append(
        operation.Case(body=body).call_and_validate(
            app=app, headers={"Authorization": f"Bearer {key.token}"}, checks=CHECKS
        )
    )
    limited = factories.make_partner(session, rate_limit="1/minute")
    limited_key = factories.make_partner_key(
        session, app.extensions["licensing"].sealer, partner=limited
    )
    partners.add_product(session, limited, seeded["product"].code, actor=actor)
    session.commit()
    for _ in range(2):
        statuses.append(
            operation.Case(body=body).call_and_validate(
                app=app, headers={"Authorization": f"Bearer {limited_key.token}"}, checks=CHECKS
            )
        )

    assert [response.status_code for response in statuses] == [401, 403, 200, 429]
