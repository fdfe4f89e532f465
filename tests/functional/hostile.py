"""Every endpoint, callable with any body, headers or path, and its answer checked.

A :class:`Caller` sends what it is given to one of the :data:`TARGETS` as that endpoint's
legitimate client would (signed under ``/v1/instance/``, with a valid partner key under
``/v1/partner/``), then checks the answer as that client would: under ``/v1/instance/``
the response signature, its digest and the nonce echo (tests/signing.py); every answer
of 400 or more must be a complete problem document (§7).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.datastructures import Headers

from licensing.crypto.sealing import Sealer
from licensing.models import Product
from tests.functional.instance_client import PROBLEM_MEMBERS, Instance
from tests.functional.partner_client import PartnerApi, register, releases_path
from tests.signing import json_body, sign, verify_response

LIMIT = 64 * 1024
PLACEHOLDER = "__hostile__"


@dataclass(frozen=True)
class Reply:
    status: int
    mimetype: str
    body: dict[str, Any]
    headers: Headers

    @property
    def code(self) -> Any:
        return self.body.get("code")

    @property
    def errors(self) -> dict[str, list[str]]:
        errors = self.body.get("errors")
        assert isinstance(errors, dict), self.body
        return errors


@dataclass(frozen=True)
class Target:
    """One endpoint: how to reach it, and the body its client sends (if it reads one)."""

    name: str
    method: str
    audience: str  # "instance", "partner" or "meta"
    path: Callable[[Caller], str]
    body: Callable[[Caller], dict[str, Any]] | None = None
    # The answer to a request without a body (or with one, where no body is read).
    plain_status: int = 200

    @property
    def reads_body(self) -> bool:
        return self.body is not None


@dataclass
class Caller:
    client: FlaskClient
    instance: Instance
    partner: PartnerApi
    license_key: str
    product_code: str
    activation_id: str
    environ: Mapping[str, Any]

    def valid_body(self, target: Target) -> dict[str, Any]:
        assert target.body is not None
        return target.body(self)

    def send(
        self,
        target: Target,
        body: bytes = b"",
        *,
        content_type: str | None = "application/json",
        headers: Mapping[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
        environ: Mapping[str, Any] | None = None,
    ) -> Reply:
        """Send ``body`` as ``target``'s client would; check the answer as it would."""
        method = method or target.method
        path = path or target.path(self)
        nonce = None
        sent: dict[str, str] = {}
        if target.audience == "instance":
            signed = sign(self.instance.credentials, method, path, body, content_type=content_type)
            sent.update(signed.headers)
            nonce = signed.nonce
        else:
            if target.audience == "partner":
                sent.update(self.partner.authorization)
            if body and content_type is not None:
                sent["Content-Type"] = content_type
        sent.update(headers or {})
        response = self.client.open(
            path,
            method=method,
            data=body,
            headers=sent,
            environ_base=dict(self.environ),
            environ_overrides=dict(environ or {}),
        )
        data = response.get_data()
        # Signed under /v1/instance/ as the server routes it: escapes decoded, one "/".
        if ("/" + unquote(path).lstrip("/")).startswith("/v1/instance/"):
            payload = verify_response(
                response.status_code,
                list(response.headers.items()),
                data,
                self.instance.jwks(),
                nonce=nonce,
            ).body
        else:
            payload = json.loads(data) if response.mimetype.endswith("json") else {}
        if response.status_code >= 400:
            assert response.mimetype == "application/problem+json", (response.status_code, data)
            assert set(payload) >= PROBLEM_MEMBERS, payload
            assert payload["status"] == response.status_code, payload
            assert payload["request_id"] == response.headers["X-Request-Id"]
        return Reply(response.status_code, response.mimetype, payload, response.headers)


def _deactivation_path(caller: Caller) -> str:
    # An activation that does not exist: the answer is 404 whatever the body was.
    return f"/v1/instance/activations/{uuid.UUID(int=7)}"


TARGETS = {
    target.name: target
    for target in (
        Target(
            "activate",
            "POST",
            "instance",
            lambda c: "/v1/instance/activations",
            lambda c: c.instance.activation_body(),
            plain_status=422,
        ),
        Target(
            "check-in",
            "POST",
            "instance",
            lambda c: "/v1/instance/check-ins",
            lambda c: c.instance.check_in_body(usage={"mailboxes": 3}),
            plain_status=422,
        ),
        Target("deactivate", "DELETE", "instance", _deactivation_path, plain_status=404),
        Target(
            "license-check",
            "POST",
            "partner",
            lambda c: "/v1/partner/license-checks",
            lambda c: {"license_key": c.license_key},
            plain_status=422,
        ),
        Target("releases", "GET", "partner", lambda c: releases_path(c.product_code)),
        Target("healthz", "GET", "meta", lambda c: "/healthz"),
        Target("readyz", "GET", "meta", lambda c: "/readyz"),
        Target("metrics", "GET", "meta", lambda c: "/metrics"),
        Target("jwks", "GET", "meta", lambda c: "/.well-known/jwks.json"),
    )
}
BODY_TARGETS = [name for name, target in TARGETS.items() if target.reads_body]
BODYLESS_TARGETS = [name for name, target in TARGETS.items() if not target.reads_body]

# Members that carry text, per endpoint that reads a body ("a.b" is a nested member).
TEXT_MEMBERS = {
    "activate": ("server_name", "platform", "product", "product_version", "fingerprint"),
    "check-in": ("server_name", "product_version", "fingerprint"),
    "license-check": ("license_key", "target_version"),
}
NUMBER_MEMBERS = {
    "activate": ("usage.mailboxes", "server_name"),
    "check-in": ("usage.mailboxes",),
    "license-check": ("license_key",),
}
# The literals of the corpus, as JSON text.
HUGE_INTEGER = "9" * 5000
DEEP = "[" * 1000 + "]" * 1000
LONE_SURROGATE = '"\\ud800probe"'
NUL = '"mail\\u0000probe"'


def with_member(body: dict[str, Any], member: str, literal: str) -> bytes:
    """``body`` as JSON with ``member`` (maybe dotted) set to the raw JSON ``literal``."""
    document = json.loads(json.dumps(body))
    *parents, last = member.split(".")
    node = document
    for name in parents:
        node = node.setdefault(name, {})
    node[last] = PLACEHOLDER
    return json_body(document).replace(json.dumps(PLACEHOLDER).encode(), literal.encode())


def make_caller(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    instance: Instance,
    product: Product,
    *,
    environ: Mapping[str, Any] | None = None,
) -> Caller:
    """An activated instance and a partner registered for its product (all committed).

    Committed, because a partner's error answer rolls the request's session back.
    """
    instance.environ = dict(environ or {})
    activated = instance.activate()
    assert activated.status == 201, activated.body
    partner = register(client, session, sealer, products=[product], rate_limit="100000/minute")
    partner.environ = dict(environ or {})
    return Caller(
        client=client,
        instance=instance,
        partner=partner,
        license_key=instance.licensed.key,
        product_code=product.code,
        activation_id=activated.body["activation"]["id"],
        environ=dict(environ or {}),
    )


def hostile_requests(caller: Caller) -> Iterator[tuple[str, bytes, dict[str, Any]]]:
    """The corpus, as ``(target name, body, Caller.send options)``.

    Hostile text keeps the member's legitimate value around the hostile character, so
    that whatever might log the refused value would log the client's own data.
    """
    for name in BODY_TARGETS:
        valid = caller.valid_body(TARGETS[name])
        yield name, DEEP.encode(), {}
        yield name, with_member(valid, "usage", DEEP), {}
        for member in TEXT_MEMBERS[name]:
            kept = str(valid.get(member, "probe"))
            yield name, with_member(valid, member, json.dumps(kept + "\x00")), {}
            yield name, with_member(valid, member, json.dumps(kept)[:-1] + '\\ud800"'), {}
        for member in NUMBER_MEMBERS[name]:
            yield name, with_member(valid, member, HUGE_INTEGER), {}
    for name, target in TARGETS.items():
        body = json_body(target.body(caller)) if target.body else b'{"a": 1}'
        yield name, body, {"content_type": "text/plain"}
        yield name, body + b" " * LIMIT, {}
        yield (
            name,
            body + b" " * LIMIT,
            {
                "headers": {"Transfer-Encoding": "chunked"},
                "environ": {"wsgi.input_terminated": True},
            },
        )
        yield name, b"", {"method": "OPTIONS"}
    yield "releases", b"", {"path": f"/v1/partner/products/{caller.product_code}%00/releases"}
    check_in = json_body(caller.valid_body(TARGETS["check-in"]))
    for path in ("/v1/instance//check-ins", "/v1/instance/check-ins/", "/v1/instance/./check-ins"):
        yield "check-in", check_in, {"path": path}
