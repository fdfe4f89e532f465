"""The CPU a check-in cannot avoid: its signature work, each part timed alone.

Not a test: it prints figures. A check-in must verify the request's RFC 9421 signature
with ``http-message-signatures`` (the issue requires that library), issue a lease (an
EdDSA JWT) and sign its answer (Ed25519). This times each of those parts on its own,
in-process, with no framework, database or HTTP server around it, so that the cost of
everything else on the check-in path can be read against it (bench/README.md).

    .venv/bin/python bench/checkin_floor.py --requests 5000
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from checkins import CHECK_IN_PATH, Credentials, signed_request
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensing.crypto import httpsig
from licensing.crypto.httpsig import CallHomeSignature, SignedRequest
from licensing.crypto.leases import LeaseTerms, issue_lease
from licensing.crypto.server_keys import SigningKey


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="signed requests to time")
    return parser.parse_args(argv)


def signed_requests(count: int, credentials: Credentials) -> list[SignedRequest]:
    """``count`` check-ins signed as a client signs them, each with its own nonce."""
    body = json.dumps(
        {
            "activation_id": str(uuid.uuid4()),
            "server_name": "mail01.example.com",
            "product_version": "2.1.0",
            "usage": {"mailboxes": 120},
        }
    ).encode()
    built = []
    for _ in range(count):
        url = f"http://127.0.0.1:8000{CHECK_IN_PATH}"
        prepared = signed_request(credentials, url, body, secrets.token_urlsafe(16))
        headers = [
            (name, value.decode() if isinstance(value, bytes) else value)
            for name, value in prepared.headers.items()
        ]
        built.append(SignedRequest.build(method="POST", url=url, headers=headers, body=body))
    return built


def per_call(requests: list[SignedRequest], part: Callable[[SignedRequest], object]) -> float:
    """CPU milliseconds per call of ``part``, over every request."""
    started = time.process_time()
    for request in requests:
        part(request)
    return 1000 * (time.process_time() - started) / len(requests)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    credentials = Credentials("bench-key-id-0123456789", secrets.token_bytes(32), "-")
    requests = signed_requests(args.requests, credentials)
    parsed: dict[int, CallHomeSignature] = {}

    def structure(request: SignedRequest) -> None:
        parsed[id(request)] = httpsig.parse_call_home_signature(request, has_query=False)
        httpsig.check_content_digest(request)

    key = SigningKey("bench-server-key", Ed25519PrivateKey.generate())
    now = datetime.now(UTC)
    terms = LeaseTerms(
        license_id=uuid.uuid4(),
        product_code="demo-mailserver",
        activation_id=uuid.uuid4(),
        fingerprint="f" * 32,
        entitlements=("mailboxes",),
        license_status="active",
        license_expires_at=None,
        upgrade_protection_until=now + timedelta(days=365),
        offline_grace=timedelta(days=7),
    )
    answer = json.dumps({"valid": True, "code": "VALID", "lease": "x" * 600}).encode()
    parts: dict[str, Callable[[SignedRequest], object]] = {
        "signature headers and digest (own checks)": structure,
        "RFC 9421 verification (library)": lambda r: httpsig.verify_hmac(
            r, parsed[id(r)], credentials.secret
        ),
        "lease (PyJWT, EdDSA)": lambda r: issue_lease(
            terms, key, issuer="bench", now=now, jti=str(uuid.uuid4())
        ),
        "answer signature (Ed25519)": lambda r: httpsig.sign_response(
            status=200, body=answer, kid=key.kid, private_key=key.private_key
        ),
    }
    total = 0.0
    for label, part in parts.items():
        cost = per_call(requests, part)
        total += cost
        print(f"{label:44s} {cost:.3f} ms CPU per check-in")
    print(f"{'together':44s} {total:.3f} ms CPU per check-in ({args.requests} requests)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
