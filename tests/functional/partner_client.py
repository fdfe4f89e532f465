"""A partner calling the partner API (PROTOCOL.md §6) through the Flask test client."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from licensing.crypto.sealing import Sealer
from licensing.models import Disclosure, Partner, Product, Scope
from licensing.services.partners import IssuedPartnerKey
from tests import factories

CHECKS = "/v1/partner/license-checks"
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code", "request_id"}
# The whole answer, nothing more (PROTOCOL.md §6): an allow-list, so nothing personal slips in.
LICENSE_FIELDS = {
    "product",
    "edition",
    "status",
    "valid",
    "code",
    "expires_at",
    "upgrade_protection_until",
    "activations",
}
SEAT_FIELDS = {"used", "allowed"}
UPGRADE_FIELDS = {
    "target_version",
    "eligible",
    "reason",
    "latest_eligible_version",
    "renewal_required",
}


def releases_path(product_code: str) -> str:
    return f"/v1/partner/products/{product_code}/releases"


@dataclass
class PartnerApi:
    """One partner API key in the hands of its partner."""

    client: FlaskClient
    partner: Partner
    issued: IssuedPartnerKey
    environ: dict[str, Any] = field(default_factory=dict)

    @property
    def token(self) -> str:
        return self.issued.token

    @property
    def authorization(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def check(
        self,
        license_key: str | None = None,
        target_version: str | None = None,
        *,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        environ: Mapping[str, Any] | None = None,
    ) -> TestResponse:
        """POST a license check (``body`` replaces the one built from the arguments)."""
        if body is None:
            body = {"license_key": license_key}
            if target_version is not None:
                body = {**body, "target_version": target_version}
        return self.client.post(
            CHECKS,
            json=dict(body),
            headers=dict(self.authorization if headers is None else headers),
            environ_base={**self.environ, **(environ or {})},
        )

    def releases(
        self,
        product_code: str,
        *,
        headers: Mapping[str, str] | None = None,
        environ: Mapping[str, Any] | None = None,
    ) -> TestResponse:
        return self.client.get(
            releases_path(product_code),
            headers=dict(self.authorization if headers is None else headers),
            environ_base={**self.environ, **(environ or {})},
        )

    def call(self, endpoint: str, license_key: str, product_code: str, **options: Any) -> Any:
        """Either endpoint by name ("check" or "releases"), for tests that cover both."""
        if endpoint == "check":
            return self.check(license_key, **options)
        return self.releases(product_code, **options)


def problem(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """A complete problem document (§7) with this status and code."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json", response.mimetype
    body = response.json
    assert isinstance(body, dict)
    assert set(body) >= PROBLEM_MEMBERS, body
    assert (body["status"], body["code"]) == (status, code), body
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


def answer(response: TestResponse) -> dict[str, Any]:
    """A 200 license-check answer."""
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json", response.mimetype
    body = response.json
    assert isinstance(body, dict)
    return body


def disclosure_count(session: Session, partner: Partner | None = None) -> int:
    """Disclosures on record (for ``partner``, or all of them); read afresh."""
    session.expire_all()
    query = select(func.count()).select_from(Disclosure)
    if partner is not None:
        query = query.where(Disclosure.partner_id == partner.id)
    return session.scalar(query) or 0


def register(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    *,
    products: Sequence[Product],
    scopes: Sequence[str] = tuple(Scope),
    **partner_options: Any,
) -> PartnerApi:
    """A new partner registered for ``products``, with one key; committed.

    Committing releases the test's savepoint: an error answer rolls the request's session
    back, which must not take the test's own records with it.
    """
    partner = factories.make_partner(session, products=products, **partner_options)
    issued = factories.make_partner_key(session, sealer, partner=partner, scopes=scopes)
    session.commit()
    return PartnerApi(client=client, partner=partner, issued=issued)


def another_key(api: PartnerApi, session: Session, sealer: Sealer, **options: Any) -> PartnerApi:
    """A second key of the same partner (its own rate-limit window)."""
    issued = factories.make_partner_key(session, sealer, partner=api.partner, **options)
    session.commit()
    return PartnerApi(client=api.client, partner=api.partner, issued=issued, environ=api.environ)
