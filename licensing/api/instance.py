"""Instance endpoints: activate, check in, deactivate; signed both ways."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Response
from sqlalchemy.exc import SQLAlchemyError

from licensing import metrics
from licensing.api import callhome
from licensing.api.edge import Blueprint
from licensing.api.problems import from_licensing_error, problem_response
from licensing.crypto.httpsig import SignatureRejected
from licensing.errors import PROBLEM_CONTENT_TYPE
from licensing.extensions import db
from licensing.runtime import current
from licensing.schemas import instance as schemas
from licensing.services import callhome as conversations
from licensing.services.callhome import Answer
from licensing.services.checkins import CheckIn
from licensing.services.replay import NonceReplayed
from licensing.timeutil import rfc3339

log = logging.getLogger(__name__)
blp = Blueprint(
    "instance",
    __name__,
    url_prefix="/v1/instance",
    description="Calls from installed product instances, signed with RFC 9421 both ways.",
)
# Instance answers are signed JSON (PROTOCOL.md §3); Flask's automatic OPTIONS answer is
# an empty body, so these routes answer OPTIONS with a signed 405 problem instead (the
# application provides no automatic OPTIONS: PROVIDE_AUTOMATIC_OPTIONS in create_app).


def _problem_doc(status: int, description: str) -> Any:
    """Document a problem answer (signed problem+json, PROTOCOL.md §3, §7)."""
    return blp.alt_response(
        status,
        schema=schemas.InstanceProblemSchema,
        description=description,
        content_type=PROBLEM_CONTENT_TYPE,
    )


@blp.before_request
def _authenticate() -> None:
    try:
        callhome.authenticate()
    except SignatureRejected as rejected:
        metrics.observe_signature_failure(rejected.code)
        raise


@blp.after_request
def _commit(response: Response) -> Response:
    """Commit once: the used nonce and every write, whatever the verdict or status."""
    if response.status_code >= 500:
        db.session.rollback()
        return response
    try:
        callhome.settle_nonce()
    except NonceReplayed as replayed:
        db.session.rollback()
        metrics.observe_signature_failure(replayed.code)
        return from_licensing_error(replayed)
    if not db.session().in_transaction():  # e.g. a check-in its group commit wrote
        return response
    try:
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("commit failed")
        return problem_response(
            status=500,
            code="INTERNAL_ERROR",
            title="Internal server error",
            detail="The server could not complete the request.",
        )
    return response


@blp.route("/activations", methods=["POST"], provide_automatic_options=False)
@blp.arguments(schemas.ActivationRequest())
@blp.response(201, schemas.ActivationAnswer, description="A new activation took a seat.")
@blp.alt_response(200, schema=schemas.ActivationAnswer, description="Already active (same id).")
@_problem_doc(403, "Verdict refuses it.")
@_problem_doc(401, "Signature rejected.")
@blp.doc(security=[{"callHomeSignature": []}])
def activate(payload: dict[str, Any]) -> Response:
    """Activate this instance (takes a seat, returns a lease)."""
    call = callhome.current_call()
    answer = conversations.activate(
        db.session(),
        callhome.environment(current()),
        call.state,
        conversations.ActivationRequest(
            product=payload["product"],
            fingerprint=payload["fingerprint"],
            server_name=payload["server_name"],
            product_version=payload["product_version"],
            platform=payload.get("platform"),
            usage=payload.get("usage", {}),
            ip=call.client_ip,
        ),
        now=call.now,
    )
    if not answer.verdict.valid:
        return _refusal(answer)
    body = _valid_body(answer)
    body["activation"] = {
        "id": str(answer.activation_id),
        "fingerprint": answer.fingerprint,
        "server_name": answer.server_name,
        "activated_at": rfc3339(answer.activated_at),
    }
    return callhome.json_answer(body, 201 if answer.created else 200)


@blp.route("/check-ins", methods=["POST"], provide_automatic_options=False)
@blp.arguments(schemas.CheckInRequest())
@blp.response(200, schemas.CheckInAnswer, description="The verdict (valid or not).")
@_problem_doc(404, "NOT_ACTIVATED.")
@_problem_doc(401, "Signature rejected.")
@blp.doc(security=[{"callHomeSignature": []}])
def check_in(payload: dict[str, Any]) -> Response:
    """Heartbeat and usage report; answers the verdict and a fresh lease."""
    call = callhome.current_call()
    try:
        answer = conversations.check_in(
            db.session(),
            callhome.environment(current()),
            call.state,
            CheckIn(
                activation_id=payload.get("activation_id"),
                fingerprint=payload.get("fingerprint"),
                server_name=payload["server_name"],
                product_version=payload["product_version"],
                usage=payload.get("usage", {}),
                ip=call.client_ip,
            ),
            now=call.now,
            nonce=callhome.take_nonce(),
        )
    except NonceReplayed as replayed:  # the check-in statement found the nonce used
        metrics.observe_signature_failure(replayed.code)
        raise
    metrics.observe_check_in(str(answer.verdict.code))
    if answer.verdict.code == "NOT_ACTIVATED":
        return _refusal(answer, status=404)
    if answer.verdict.valid:
        return callhome.json_answer(_valid_body(answer), 200)
    body = _verdict_body(answer)
    return callhome.json_answer(body, 200)


@blp.route("/activations/<uuid:activation_id>", methods=["DELETE"], provide_automatic_options=False)
@blp.response(200, schemas.DeactivationAnswer, description="The seat is released.")
@_problem_doc(404, "NOT_ACTIVATED.")
@_problem_doc(401, "Signature rejected.")
@blp.doc(security=[{"callHomeSignature": []}])
def deactivate(activation_id: uuid.UUID) -> Response:
    """Release this instance's seat (signed, empty body)."""
    call = callhome.current_call()
    if not conversations.deactivate(db.session(), call.state, activation_id, now=call.now):
        return _problem(404, "NOT_ACTIVATED", "No live activation of this license has that id.")
    return callhome.json_answer({"code": "DEACTIVATED"}, 200)


def _verdict_body(answer: Answer) -> dict[str, Any]:
    body: dict[str, Any] = {
        "valid": answer.verdict.valid,
        "code": str(answer.verdict.code),
        "detail": answer.verdict.detail,
        "license": _license(answer),
        "next_check_in_at": rfc3339(answer.next_check_in_at),
    }
    return body


def _valid_body(answer: Answer) -> dict[str, Any]:
    body = _verdict_body(answer)
    body["lease"] = answer.lease
    return body


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


def _refusal(answer: Answer, status: int = 403) -> Response:
    return _problem(status, str(answer.verdict.code), answer.verdict.detail)


def _problem(status: int, code: str, detail: str) -> Response:
    title = "Not activated" if code == "NOT_ACTIVATED" else "License refused"
    return problem_response(status=status, code=code, title=title, detail=detail)
