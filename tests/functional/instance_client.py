"""A product instance calling home through the Flask test client.

Every request is signed by :mod:`tests.signing` and every answer is checked as a real
client would check it before trusting it (§3): signature, digest, nonce echo, time.
Answers with status >= 400 must also be complete problem documents (§7).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from werkzeug.datastructures import Headers

from licensing.models import Edition, License, Product
from tests.signing import Credentials, SignedRequest, json_body, sign, verify_response

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code", "request_id"}
_KEEP = object()


def new_fingerprint() -> str:
    return "fp-" + secrets.token_hex(16)


def rfc3339(moment: datetime | None) -> str | None:
    """How the contract spells a time: UTC, whole seconds, ``Z``."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class Licensed:
    """A license as its customer holds it: the key, and what the server knows."""

    license: License
    product: Product
    edition: Edition
    key: str
    credentials: Credentials


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: Headers
    nonce: str | None

    @property
    def code(self) -> Any:
        return self.body.get("code")


@dataclass
class Instance:
    """One installed instance of a licensed product (a fingerprint and a server name)."""

    client: FlaskClient
    licensed: Licensed
    fingerprint: str = field(default_factory=new_fingerprint)
    server_name: str = "mail01.example.com"
    version: str = "2.0.0"
    environ: dict[str, Any] = field(default_factory=dict)
    _jwks: dict[str, Any] | None = None

    @property
    def credentials(self) -> Credentials:
        return self.licensed.credentials

    def refresh_jwks(self) -> None:
        self._jwks = None

    def jwks(self) -> dict[str, Any]:
        if self._jwks is None:
            response = self.client.get("/.well-known/jwks.json")
            assert response.status_code == 200
            self._jwks = response.json
        assert self._jwks is not None
        return self._jwks

    def signed(
        self,
        method: str,
        path: str,
        payload: Mapping[str, Any] | bytes | None = None,
        **options: Any,
    ) -> SignedRequest:
        body = json_body(payload) if isinstance(payload, Mapping) else (payload or b"")
        return sign(self.credentials, method, path, body, **options)

    def send(
        self,
        method: str,
        path: str,
        payload: Mapping[str, Any] | bytes | None = None,
        **options: Any,
    ) -> Answer:
        return self.deliver(self.signed(method, path, payload, **options))

    def deliver(
        self,
        request: SignedRequest,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        path: str | None = None,
        expect_nonce: Any = _KEEP,
    ) -> Answer:
        """Send ``request`` (optionally with other headers, body or path: tampering)."""
        response = self.client.open(
            path or request.path,
            method=request.method,
            data=request.body if body is None else body,
            headers=dict(request.headers if headers is None else headers),
            environ_base=dict(self.environ),
        )
        nonce = request.nonce if expect_nonce is _KEEP else expect_nonce
        verified = verify_response(
            response.status_code,
            list(response.headers.items()),
            response.get_data(),
            self.jwks(),
            nonce=nonce,
        )
        if response.status_code >= 400:
            assert response.mimetype == "application/problem+json", response.mimetype
            assert set(verified.body) >= PROBLEM_MEMBERS, verified.body
            assert verified.body["status"] == response.status_code
            assert verified.body["request_id"] == response.headers["X-Request-Id"]
            assert verified.body["type"] == "/problems/" + verified.body["code"].lower().replace(
                "_", "-"
            )
        else:
            assert response.mimetype == "application/json", response.mimetype
        return Answer(response.status_code, verified.body, response.headers, nonce)

    # --- the three conversations of §5 -------------------------------------------------

    def activation_body(self, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "product": self.licensed.product.code,
            "fingerprint": self.fingerprint,
            "server_name": self.server_name,
            "product_version": self.version,
            "usage": {"mailboxes": 5},
        }
        body.update(fields)
        return {k: v for k, v in body.items() if v is not None}

    def check_in_body(self, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "server_name": self.server_name,
            "product_version": self.version,
        }
        body.update(fields)
        return {k: v for k, v in body.items() if v is not None}

    def activate(self, *, sign_options: Mapping[str, Any] | None = None, **fields: Any) -> Answer:
        return self.send(
            "POST",
            "/v1/instance/activations",
            self.activation_body(**fields),
            **(sign_options or {}),
        )

    def check_in(self, *, sign_options: Mapping[str, Any] | None = None, **fields: Any) -> Answer:
        return self.send(
            "POST", "/v1/instance/check-ins", self.check_in_body(**fields), **(sign_options or {})
        )

    def deactivate(self, activation_id: str, **options: Any) -> Answer:
        return self.send("DELETE", f"/v1/instance/activations/{activation_id}", None, **options)

    def other(self, **changes: Any) -> Instance:
        """Another instance of the same license (a new fingerprint unless given)."""
        values: dict[str, Any] = {
            "client": self.client,
            "licensed": self.licensed,
            "server_name": self.server_name,
            "version": self.version,
            "environ": dict(self.environ),
            "_jwks": self._jwks,
        }
        values.update(changes)
        return Instance(**values)
