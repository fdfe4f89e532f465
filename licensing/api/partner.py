"""Partner endpoints: license validity and upgrade eligibility, release lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, current_app, g, jsonify, request

from licensing import metrics
from licensing.api import ratelimits
from licensing.api.edge import Blueprint
from licensing.api.ratelimits import limiter
from licensing.api.requests import client_ip, request_id
from licensing.errors import PROBLEM_CONTENT_TYPE
from licensing.extensions import db
from licensing.models import Scope
from licensing.runtime import current
from licensing.schemas import partner as schemas
from licensing.services import partner_checks
from licensing.services.partner_checks import PartnerKeyRefused, PartnerPrincipal

blp = Blueprint(
    "partner",
    __name__,
    url_prefix="/v1/partner",
    description="For registered partners: is this key valid, which upgrades does it cover.",
)
_PROBLEMS = {
    401: "Missing, unknown, expired or revoked API key (UNAUTHENTICATED).",
    403: "Missing scope, address outside the allow-list, or partner suspended (FORBIDDEN).",
    429: "Rate limit of the key reached, or too many failed authentications from the "
    "client's address (RATE_LIMITED); see Retry-After.",
}


def _partner_limit() -> str:
    principal: PartnerPrincipal = g.partner
    return principal.rate_limit or str(current_app.config["LICENSING_PARTNER_DEFAULT_LIMIT"])


_LICENSE_CHECK_ANSWER = schemas.LicenseCheckAnswer()
_RELEASES_ANSWER = schemas.ReleasesAnswer()

# One budget per key across every partner endpoint, as the documentation states it: a
# limit on each view would give a key its figure once per endpoint.
_per_key = limiter.shared_limit(_partner_limit, scope="partner-key")


@blp.before_request
def _authenticate() -> None:
    runtime = current()
    header = request.headers.get("Authorization", "")
    token = header[7:] if header[:7].lower() == "bearer " else None
    # Behind trusted proxies (LICENSING_TRUSTED_PROXY_HOPS), the address they saw.
    address = client_ip(runtime.settings.trusted_proxy_hops)
    ratelimits.begin_request()
    ratelimits.refuse_if_throttled(address)
    try:
        g.partner = partner_checks.authenticate(
            db.session(), runtime.sealer, token, client_ip=address, now=datetime.now(UTC)
        )
    except PartnerKeyRefused as refused:
        metrics.observe_partner_auth_failure(refused.reason)
        ratelimits.count_failure(address)
        raise


@blp.after_request
def _finish(response: Response) -> Response:
    # Disclosures and last-used times are written only with a successful answer.
    if response.status_code < 400:
        db.session.commit()
    else:
        db.session.rollback()
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="licensing-partners"'
    return ratelimits.add_headers(response)


def _problem_doc(status: int, description: str) -> Any:
    return blp.alt_response(
        status,
        schema=schemas.PartnerProblemSchema,
        description=description,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def _documented(func: Any) -> Any:
    for status, description in _PROBLEMS.items():
        func = _problem_doc(status, description)(func)
    return blp.doc(security=[{"partnerApiKey": []}])(func)


@blp.route("/license-checks", methods=["POST"], provide_automatic_options=False)
@_per_key
@blp.arguments(schemas.LicenseCheckRequest())
@blp.response(200, schemas.LicenseCheckAnswer)
@_problem_doc(404, "LICENSE_NOT_FOUND.")
@_documented
def license_check(payload: dict[str, Any]) -> Response:
    """Check a customer's license and, with target_version, upgrade eligibility."""
    principal: PartnerPrincipal = g.partner
    partner_checks.require_scope(principal, Scope.LICENSES_CHECK)
    try:
        answered = partner_checks.check_license(
            db.session(),
            current().sealer,
            principal,
            license_key=payload["license_key"],
            target_version=payload.get("target_version"),
            request_id=request_id(),
            now=datetime.now(UTC),
            answer=_LICENSE_CHECK_ANSWER.dump,
        )
    except partner_checks.LicenseNotFound:
        metrics.observe_partner_check(partner_checks.LicenseNotFound.code)
        raise
    metrics.observe_partner_check(str(answered.check.verdict.code))
    return jsonify(answered.answer)


@blp.route("/products/<string:code>/releases", methods=["GET"], provide_automatic_options=False)
@_per_key
@blp.response(200, schemas.ReleasesAnswer)
@_problem_doc(404, "Unknown product, or one you are not registered for (NOT_FOUND).")
@_documented
def releases(code: str) -> Response:
    """A registered product's releases, oldest first."""
    principal: PartnerPrincipal = g.partner
    partner_checks.require_scope(principal, Scope.RELEASES_READ)
    found = partner_checks.product_releases(db.session(), principal, code)
    return jsonify(_RELEASES_ANSWER.dump({"product": code, "releases": found}))
