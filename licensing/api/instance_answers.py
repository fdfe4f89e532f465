"""The instance answers' bodies, built from a conversation's outcome (PROTOCOL.md §5).

Each builder is the one source of an answer's shape; the schema beside it in
:mod:`licensing.schemas.instance` documents that shape, and a test holds every answer
sent to its schema. Plain dicts, not a schema's ``dump``: dumping the check-in answer
costs about 14 µs more per check-in than building it (bench/answer_dump.py).
"""

from __future__ import annotations

from typing import Any

from licensing.services.instance_calls import Answer
from licensing.timeutil import rfc3339


def activation_body(answer: Answer) -> dict[str, Any]:
    """``ActivationAnswer``, without the echoed members (signatures.json_answer adds them)."""
    body = check_in_body(answer)
    body["activation"] = {
        "id": str(answer.activation_id),
        "fingerprint": answer.fingerprint,
        "server_name": answer.server_name,
        "activated_at": rfc3339(answer.activated_at),
    }
    return body


def check_in_body(answer: Answer) -> dict[str, Any]:
    """``CheckInAnswer``: the verdict, and the lease when it is valid."""
    body: dict[str, Any] = {
        "valid": answer.verdict.valid,
        "code": str(answer.verdict.code),
        "detail": answer.verdict.detail,
        "license": _license(answer),
        "next_check_in_at": rfc3339(answer.next_check_in_at),
    }
    if answer.verdict.valid:
        body["lease"] = answer.lease
    return body


def deactivation_body() -> dict[str, Any]:
    """``DeactivationAnswer``."""
    return {"code": "DEACTIVATED"}


def _license(answer: Answer) -> dict[str, Any]:
    state, seats = answer.state, answer.seats
    activations: dict[str, Any] = {"used": seats.used, "allowed": seats.allowed}
    if seats.migration_until is not None:
        activations["migration_until"] = rfc3339(seats.migration_until)
    return {
        "id": str(state.id),
        "product": state.product_code,
        "edition": state.edition_code,
        "status": state.status,
        "expires_at": rfc3339(state.expires_at),
        "upgrade_protection_until": rfc3339(state.upgrade_protection_until),
        "entitlements": list(state.entitlements),
        "activations": activations,
    }
