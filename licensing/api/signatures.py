"""Authentication and signing around the instance endpoints (PROTOCOL.md §2, §3).

:func:`authenticate` builds the request's one :class:`InstanceCall`, its nonce fresh but
not yet used up: the service that takes the call uses it up through its replay store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Response, json, request

from licensing.api.requests import client_ip, request_url
from licensing.crypto import httpsig
from licensing.crypto.httpsig import SignatureRejected, SignedRequest
from licensing.extensions import db
from licensing.runtime import current
from licensing.services.instance_reports import InstanceCall
from licensing.services.license_state import load_license_state
from licensing.timeutil import rfc3339

INSTANCE_PREFIX = "/v1/instance/"
_EXCHANGE_KEY = "licensing.instance_call"


@dataclass(slots=True)
class _Exchange:
    """What one request's handling learns along the way, kept with that request alone.

    (Flask's ``g`` lives as long as the application context, which a test or a CLI
    command may keep across several requests.)
    """

    call: InstanceCall | None = None
    nonce: str | None = None
    time: datetime | None = None


def _exchange() -> _Exchange:
    environ = request.environ
    exchange: _Exchange | None = environ.get(_EXCHANGE_KEY)
    if exchange is None:
        exchange = environ[_EXCHANGE_KEY] = _Exchange()
    return exchange


def current_call() -> InstanceCall | None:
    """The authenticated call of the request in context, if it passed the table."""
    return _exchange().call


def authenticate() -> InstanceCall:
    """Run the contract's rejection table in order, up to freshness; the nonce is claimed."""
    runtime = current()
    now = datetime.now(UTC)
    exchange = _exchange()
    exchange.time = now
    signed = SignedRequest.build(
        method=request.method,
        url=request_url(),
        headers=request.headers.items(),
        body=request.get_data(cache=True),
    )
    signature = httpsig.parse_call_home_signature(signed, has_query=bool(request.query_string))
    exchange.nonce = signature.nonce
    httpsig.check_content_digest(signed)
    session = db.session()
    state = runtime.licenses.get(
        signature.key_id, lambda: load_license_state(session, runtime.sealer, signature.key_id)
    )
    if state is None:  # not counted: unknown key ids would let anyone fill the table
        raise SignatureRejected("UNKNOWN_KEY", "no license has this key id")
    try:
        httpsig.verify_hmac(signed, signature, state.signing_secret)
    except SignatureRejected:
        # Evidence for SIGNATURE_FAILURES: tallied in memory, written in batches.
        runtime.signature_failures.count(signature.key_id, now)
        raise
    httpsig.check_freshness(signature, now=now, skew=runtime.settings.clock_skew)
    exchange.call = InstanceCall(
        state=state,
        now=now,
        client_ip=client_ip(runtime.settings.trusted_proxy_hops),
        key_id=signature.key_id,
        nonce=signature.nonce,
    )
    return exchange.call


def echo_members() -> dict[str, Any]:
    """The members every instance answer carries: the request's nonce and the time."""
    members: dict[str, Any] = {}
    exchange = _exchange()
    nonce = exchange.nonce or httpsig.nonce_hint(request.headers.get("Signature-Input"))
    if nonce:
        members["nonce"] = nonce
    members["server_time"] = rfc3339(exchange.time or datetime.now(UTC))
    return members


def json_answer(body: dict[str, Any], status: int) -> Response:
    body.update(echo_members())
    return Response(json.dumps(body), status=status, mimetype="application/json")


def sign_instance_response(response: Response) -> Response:
    """Sign every answer under ``/v1/instance/``: successes, verdicts and problems."""
    if not request.path.startswith(INSTANCE_PREFIX):
        return response
    key = current().signing_key(db.session())
    # A HEAD answer carries no body, so its digest is that of the empty body received.
    body = b"" if request.method == "HEAD" else response.get_data()
    headers = httpsig.sign_response(
        status=response.status_code, body=body, kid=key.kid, private_key=key.private_key
    )
    for name, value in headers.items():
        response.headers[name] = value
    return response
