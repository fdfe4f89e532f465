"""Partner endpoints: license validity and upgrade eligibility, release lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, current_app, g, jsonify, request

from licensing import metrics, ratelimits
from licensing.api.edge import Blueprint
from licensing.api.requests import client_ip, request_id
from licensing.errors import PROBLEM_CONTENT_TYPE
from licensing.extensions import db
from licensing.models import Scope
from licensing.ratelimits import limiter
from licensing.runtime import current
from licensing.schemas import partner as schemas
from licensing.services import partner_checks
from licensing.services.partner_checks import LicenseCheck, PartnerKeyRefused, PartnerPrincipal
from licensing.timeutil import rfc3339

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
    check = partner_checks.check_license(
        db.session(),
        current().sealer,
        principal,
        license_key=payload["license_key"],
        target_version=payload.get("target_version"),
        request_id=request_id(),
        now=datetime.now(UTC),
    )
    return jsonify(_check_body(check))


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
    return jsonify(
        {
            "product": code,
            "releases": [
                {"version": r.version, "released_at": rfc3339(r.released_at)} for r in found
            ],
        }
    )


def _check_body(check: LicenseCheck) -> dict[str, Any]:
    """Only the allow-listed fields (partner_checks.LICENSE_FIELDS / UPGRADE_FIELDS)."""
    state = check.state
    body: dict[str, Any] = {
        "license": {
            "product": state.product_code,
            "edition": state.edition_code,
            "status": state.status,
            "valid": check.verdict.valid,
            "code": str(check.verdict.code),
            "expires_at": rfc3339(state.expires_at),
            "upgrade_protection_until": rfc3339(state.upgrade_protection_until),
            "activations": {"used": check.activations_used, "allowed": state.max_activations},
        }
    }
    if check.upgrade is not None:
        upgrade = check.upgrade
        body["upgrade"] = {
            "target_version": upgrade.target_version,
            "eligible": upgrade.eligible,
            "reason": str(upgrade.reason),
            "latest_eligible_version": upgrade.latest_eligible_version,
            "renewal_required": upgrade.renewal_required,
        }
    return body
