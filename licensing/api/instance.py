"""Instance endpoints: activate, check in, deactivate; signed both ways."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Response
from sqlalchemy.exc import SQLAlchemyError

from licensing import metrics
from licensing.api import signatures
from licensing.api.edge import Blueprint
from licensing.api.problems import from_licensing_error, problem_response
from licensing.crypto.httpsig import SignatureRejected
from licensing.errors import PROBLEM_CONTENT_TYPE, NonceReplayed
from licensing.extensions import db
from licensing.runtime import current
from licensing.schemas import instance as schemas
from licensing.services import check_ins, instance_calls
from licensing.services.instance_calls import Answer
from licensing.services.instance_reports import ActivationReport, CheckIn, InstanceCall

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
        signatures.authenticate()
    except SignatureRejected as rejected:
        metrics.observe_signature_failure(rejected.code)
        raise


def _replayed(replayed: NonceReplayed) -> Response:
    # A replay is a signature failure (§2) wherever it was found: by the conversation,
    # by the check-in's own statement, or by the after-request hook below.
    metrics.observe_signature_failure(replayed.code)
    return from_licensing_error(replayed)


blp.register_error_handler(NonceReplayed, _replayed)


@blp.after_request
def _commit(response: Response) -> Response:
    """Commit once: the used nonce and every write, whatever the verdict.

    Any answer below 500 commits (a refusal or a 4xx problem too, so its nonce stays
    used); a server error rolls the request's writes back.
    """
    if response.status_code >= 500:
        db.session.rollback()
        return response
    call = signatures.current_call()
    if call is not None and not call.nonce_spent:  # e.g. a body refused before any conversation
        try:
            check_ins.use_up_nonce(db.session(), current().instance.replay, call)
        except NonceReplayed as replayed:
            db.session.rollback()
            return _replayed(replayed)
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


def _call() -> InstanceCall:
    call = signatures.current_call()
    assert call is not None, "an instance view runs only after authentication"
    return call


@blp.route("/activations", methods=["POST"], provide_automatic_options=False)
@blp.arguments(schemas.ActivationRequest())
@blp.response(201, schemas.ActivationAnswer, description="A new activation took a seat.")
@blp.alt_response(200, schema=schemas.ActivationAnswer, description="Already active (same id).")
@_problem_doc(403, "Verdict refuses it.")
@_problem_doc(401, "Signature rejected.")
@blp.doc(security=[{"callHomeSignature": []}])
def activate(payload: dict[str, Any]) -> Response:
    """Activate this instance (takes a seat, returns a lease)."""
    call = _call()
    answer = instance_calls.activate(
        db.session(),
        current().instance,
        call,
        ActivationReport(
            product=payload["product"],
            fingerprint=payload["fingerprint"],
            server_name=payload["server_name"],
            product_version=payload["product_version"],
            platform=payload.get("platform"),
            usage=payload.get("usage", {}),
            ip=call.client_ip,
        ),
    )
    if not answer.verdict.valid:
        return _refusal(answer)
    return signatures.json_answer(schemas.activation_body(answer), 201 if answer.created else 200)


@blp.route("/check-ins", methods=["POST"], provide_automatic_options=False)
@blp.arguments(schemas.CheckInRequest())
@blp.response(200, schemas.CheckInAnswer, description="The verdict (valid or not).")
@_problem_doc(404, "NOT_ACTIVATED.")
@_problem_doc(401, "Signature rejected.")
@blp.doc(security=[{"callHomeSignature": []}])
def check_in(payload: dict[str, Any]) -> Response:
    """Heartbeat and usage report; answers the verdict and a fresh lease."""
    call = _call()
    answer = instance_calls.check_in(
        db.session(),
        current().instance,
        call,
        CheckIn(
            activation_id=payload.get("activation_id"),
            fingerprint=payload.get("fingerprint"),
            server_name=payload["server_name"],
            product_version=payload["product_version"],
            usage=payload.get("usage", {}),
            ip=call.client_ip,
            lease_jti=payload.get("lease_jti"),
        ),
    )
    metrics.observe_check_in(str(answer.verdict.code))
    if answer.verdict.code == "NOT_ACTIVATED":
        return _refusal(answer, status=404)
    return signatures.json_answer(schemas.check_in_body(answer), 200)


@blp.route("/activations/<uuid:activation_id>", methods=["DELETE"], provide_automatic_options=False)
@blp.response(200, schemas.DeactivationAnswer, description="The seat is released.")
@_problem_doc(404, "NOT_ACTIVATED.")
@_problem_doc(401, "Signature rejected.")
@blp.doc(security=[{"callHomeSignature": []}])
def deactivate(activation_id: uuid.UUID) -> Response:
    """Release this instance's seat (signed, empty body)."""
    if not instance_calls.deactivate(db.session(), current().instance, _call(), activation_id):
        return _problem(404, "NOT_ACTIVATED", "No live activation of this license has that id.")
    return signatures.json_answer(schemas.deactivation_body(), 200)


def _refusal(answer: Answer, status: int = 403) -> Response:
    return _problem(status, str(answer.verdict.code), answer.verdict.detail)


def _problem(status: int, code: str, detail: str) -> Response:
    title = "Not activated" if code == "NOT_ACTIVATED" else "License refused"
    return problem_response(status=status, code=code, title=title, detail=detail)
