"""A fake licensing server behind a requests adapter, a test clock, test server keys."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)
from licensing_client import InstanceClient
from licensing_client.keys import LicenseKey
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

# The test vector of docs/protocol.md §2 (not a real license).
VECTOR_KEY = "6E86N-JY2MX-K1WS8-JMXTQ-EHXDK"
BASE_URL = "http://licensing.test"
PRODUCT = "demo-mailserver"
CALL_HOME_TAG = "licensing/v1/call-home"
RESPONSE_TAG = "licensing/v1/response"
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
GRACE = 7 * 86400


class Clock:
    """An injectable clock: ``clock()`` is now; tests move it."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class ServerKey:
    private: Ed25519PrivateKey
    kid: str

    @classmethod
    def generate(cls, kid: str | None = None) -> ServerKey:
        private = Ed25519PrivateKey.generate()
        return cls(private, kid or f"test-{uuid.uuid4().hex[:12]}")

    @property
    def jwk(self) -> dict[str, str]:
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": x,
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
        }


@dataclass
class Reply:
    """What the fake server answers; the knobs break the answer in chosen ways."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    signed: bool = True
    key: ServerKey | None = None  # sign with another key than the pinned one
    nonce: str | None = None  # echo another nonce
    created_offset: float = 0.0  # sign with created = clock + offset
    tamper: Callable[[bytes], bytes] | None = None  # change the body after signing
    error: Exception | None = None  # raise instead of answering


@dataclass
class Seen:
    """A request the fake server received, after checking its signature."""

    method: str
    path: str
    headers: CaseInsensitiveDict[str]
    body: bytes
    nonce: str
    created: int
    components: tuple[str, ...]

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


Handler = Callable[[Seen], Reply]


class _Resolver(HTTPSignatureKeyResolver):
    def __init__(self, secret: bytes | None = None, private: Any = None) -> None:
        self.secret, self.private = secret, private

    def resolve_public_key(self, key_id: str) -> Any:
        return self.secret

    def resolve_private_key(self, key_id: str) -> Any:
        return self.private


class FakeServer(BaseAdapter):
    """A requests adapter: verifies each request like the server and signs each answer."""

    def __init__(self, key: LicenseKey, server_key: ServerKey, clock: Clock) -> None:
        super().__init__()
        self.key, self.server_key, self.clock = key, server_key, clock
        self.seen: list[Seen] = []
        self.replies: list[Reply | Handler] = []
        self.default: Handler | None = None

    def queue(self, *replies: Reply | Handler) -> None:
        self.replies.extend(replies)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        seen = self._verify(request)
        self.seen.append(seen)
        if self.replies:
            item = self.replies.pop(0)
        elif self.default is not None:
            item = self.default
        else:
            raise AssertionError(f"unexpected request {seen.method} {seen.path}")
        reply = item(seen) if callable(item) else item
        if reply.error is not None:
            raise reply.error
        return self.respond(request, seen, reply)

    def close(self) -> None:
        pass

    def _verify(self, request: requests.PreparedRequest) -> Seen:
        body = request.body or b""
        assert isinstance(body, bytes)
        verifier = HTTPMessageVerifier(
            signature_algorithm=algorithms.HMAC_SHA256,
            key_resolver=_Resolver(secret=self.key.signing_secret),
        )
        verifier.max_clock_skew = timedelta(days=36500)
        (result,) = verifier.verify(
            request,
            max_age=None,
            expect_tag=CALL_HOME_TAG,
            require_components=("@method", "@path", "content-digest"),
            body=body,
        )
        assert result.parameters["keyid"] == self.key.key_id
        assert result.parameters["alg"] == "hmac-sha256"
        assert result.nonce is not None
        path = request.path_url
        return Seen(
            method=str(request.method),
            path=path,
            headers=CaseInsensitiveDict({k: str(v) for k, v in request.headers.items()}),
            body=body,
            nonce=result.nonce,
            created=int(result.parameters["created"]),
            components=tuple(k.strip('"') for k in result.covered_components)[:-1],
        )

    def respond(
        self, request: requests.PreparedRequest, seen: Seen, reply: Reply
    ) -> requests.Response:
        body = dict(reply.body)
        body.setdefault("nonce", reply.nonce if reply.nonce is not None else seen.nonce)
        body.setdefault("server_time", _rfc3339(self.clock()))
        content = json.dumps(body).encode()
        response = requests.Response()
        response.status_code = reply.status
        response.reason = "fake"
        response.url = str(request.url)
        response.request = request
        response.encoding = "utf-8"
        response.headers = CaseInsensitiveDict(
            {"Content-Type": "application/json", "X-Request-Id": "fake-request-0001"}
        )
        response.headers.update(reply.headers)
        if reply.signed:
            key = reply.key or self.server_key
            signer = HTTPMessageSigner(
                signature_algorithm=algorithms.ED25519, key_resolver=_Resolver(private=key.private)
            )
            signer.sign(
                response,
                key_id=key.kid,
                created=datetime.fromtimestamp(self.clock() + reply.created_offset, UTC),
                label="sig",
                tag=RESPONSE_TAG,
                covered_component_ids=("@status", "content-digest"),
                body=content,
            )
        response._content = reply.tamper(content) if reply.tamper else content
        return response

    # -- a small licensing server ------------------------------------------------------

    def lease(
        self,
        *,
        fingerprint: str,
        activation_id: str,
        key: ServerKey | None = None,
        **overrides: Any,
    ) -> str:
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": "licensing-test",
            "sub": "0f6d3c1e-8a52-4b7e-9d0c-2e4f6a8b1c3d",
            "aud": PRODUCT,
            "iat": now,
            "nbf": now,
            "exp": now + GRACE,
            "jti": str(uuid.uuid4()),
            "act": activation_id,
            "fpr": fingerprint,
            "ent": ["smtp"],
            "lst": "active",
            "lexp": None,
            "upg": "2027-01-01T00:00:00Z",
        }
        claims.update(overrides)
        key = key or self.server_key
        return jwt.encode(
            claims,
            key.private,
            algorithm="EdDSA",
            headers={"kid": key.kid, "typ": "license-lease+jwt"},
        )

    def license_object(self, status: str = "active") -> dict[str, Any]:
        return {
            "id": "0f6d3c1e-8a52-4b7e-9d0c-2e4f6a8b1c3d",
            "product": PRODUCT,
            "edition": "standard",
            "status": status,
            "expires_at": None,
            "upgrade_protection_until": "2027-01-01T00:00:00Z",
            "entitlements": ["smtp"],
            "activations": {"used": 1, "allowed": 1},
        }

    def activation_reply(self, seen: Seen, *, activation_id: str, status: int = 201) -> Reply:
        payload = seen.json
        return Reply(
            status=status,
            body={
                "valid": True,
                "code": "VALID",
                "detail": "The license is valid.",
                "activation": {
                    "id": activation_id,
                    "fingerprint": payload["fingerprint"],
                    "server_name": payload["server_name"],
                    "activated_at": _rfc3339(self.clock()),
                },
                "license": self.license_object(),
                "lease": self.lease(
                    fingerprint=payload["fingerprint"], activation_id=activation_id
                ),
                "next_check_in_at": _rfc3339(self.clock() + 86400),
            },
        )

    def check_in_reply(self, seen: Seen, *, activation_id: str, code: str = "VALID") -> Reply:
        payload = seen.json
        body: dict[str, Any] = {
            "valid": code == "VALID",
            "code": code,
            "detail": f"verdict {code}",
            "license": self.license_object(),
            "next_check_in_at": _rfc3339(self.clock() + 86400),
        }
        if code == "VALID":
            body["lease"] = self.lease(
                fingerprint=payload["fingerprint"], activation_id=activation_id
            )
        return Reply(body=body)


def problem(status: int, code: str, detail: str = "problem", **extra: Any) -> Reply:
    body = {
        "type": f"/problems/{code.lower().replace('_', '-')}",
        "title": "Problem",
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": "fake-request-0001",
        **extra,
    }
    return Reply(status=status, body=body)


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Harness:
    """A client wired to a fake server, plus what a test needs to drive both."""

    client: InstanceClient
    server: FakeServer
    clock: Clock
    sleeps: list[float]
    state_dir: Path
    make_client: Callable[..., InstanceClient]

    ACTIVATION_ID = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"

    def activate(self) -> None:
        self.server.queue(
            lambda seen: self.server.activation_reply(seen, activation_id=self.ACTIVATION_ID)
        )
        self.client.activate()
