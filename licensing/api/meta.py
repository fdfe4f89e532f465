"""Operational endpoints: liveness, readiness, metrics, and the server's public keys."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify
from flask_smorest import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from licensing import metrics
from licensing.api.problems import problem_response
from licensing.crypto.sealing import SealBroken, Sealer
from licensing.database import schema_is_current
from licensing.extensions import db
from licensing.runtime import Runtime, current
from licensing.services import activations, master_key, server_keys

log = logging.getLogger(__name__)
blp = Blueprint("meta", __name__, description="Health, readiness, metrics and public keys.")


@blp.route("/healthz")
@blp.response(200, content_type="application/json")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.response(200, content_type="application/json")
@blp.alt_response(
    503,
    description="A check failed: the database, its schema, Redis (when configured), "
    "or the master key opening the server signing key. The detail names it.",
)
def readyz() -> Any:
    """Readiness: every dependency a check-in needs answers, and the master key opens
    what is sealed. Nothing is cached: each probe runs every check (each is one query,
    one AES open or one Redis PING with a one-second timeout)."""
    try:
        # Through the request's session: on SQLite a second connection would queue
        # behind any write lock the request already holds.
        session = db.session()
        session.connection().execute(text("SELECT 1"))
        current_schema = schema_is_current(session.connection())
    except SQLAlchemyError:
        return _not_ready("The database is unreachable.")
    if not current_schema:
        return _not_ready(
            "The database schema is not at the latest migration: run `licensing db upgrade`."
        )
    runtime = current()
    body: dict[str, Any] = {"status": "ready", "database": "ok", "migrations": "current"}
    if runtime.redis_probe is not None:
        try:
            runtime.redis_probe.ping()
        except Exception:  # any failure to answer (refused, timed out, auth) is "unreachable"
            return _not_ready("Redis (LICENSING_REDIS_URL) is unreachable.")
        body["redis"] = "ok"
    if server_keys.active_key(session) is None:
        return _not_ready(
            "There is no server signing key: start with `licensing serve` "
            "or run `licensing keys rotate`."
        )
    problem = _master_key_problem(session, runtime)
    if problem is not None:
        return _not_ready(problem)
    body["master_key"] = _master_key_state(session, runtime.sealer)
    return body


def _master_key_problem(session: Session, runtime: Runtime) -> str | None:
    """What the master key does not open, or None."""
    sealer = runtime.sealer
    try:
        master_key.verify(
            session, sealer, source=runtime.settings.master_key_source, elsewhere_checked=True
        )
        opens = True
    except SealBroken:
        opens = False
    # Any value under a key this server lacks would answer 500 here: a rotation to this
    # key is unfinished, or the server lacks the previous key it needs meanwhile.
    elsewhere = master_key.sealed_elsewhere(session, sealer)
    if elsewhere:
        return (
            f"The master key (id {sealer.key_id}) does not open the sealed data: "
            f"{master_key.describe(elsewhere)}. Finish the rotation to it, or set the key "
            "that sealed them as LICENSING_MASTER_KEY_PREVIOUS."
        )
    if not opens:
        # The service's message names the key file's path: the probe names only the check.
        return (
            f"The master key (id {sealer.key_id}) does not open the sealed data: "
            "the server signing key, license keys or keyed-hash keys."
        )
    return None


def _master_key_state(session: Session, sealer: Sealer) -> dict[str, Any]:
    state: dict[str, Any] = {"id": sealer.key_id}
    if sealer.previous_key_id is not None:
        # A full count, so only while a previous key is configured (during a rotation).
        state["previous_id"] = sealer.previous_key_id
        state["sealed_under_other_keys"] = master_key.remaining(session, sealer)
    return state


def _not_ready(detail: str) -> Response:
    return problem_response(status=503, code="NOT_READY", title="Not ready", detail=detail)


@blp.route("/metrics")
@blp.response(200, content_type="text/plain")
def prometheus_metrics() -> Response:
    """Prometheus metrics in the text exposition format."""
    session = db.session()
    try:
        by_status: Mapping[str, int] | None = activations.count_by_status(session)
    except SQLAlchemyError as exc:
        # The process's counters matter most during an outage: serve them without it.
        session.rollback()
        # The class only: a driver's message can name the database host.
        log.warning(
            "metrics: activations by status left out, the database failed (%s)",
            type(exc).__name__,
        )
        by_status = None
    payload, content_type = metrics.exposition(
        activations=None if by_status is None else (lambda: by_status)
    )
    return Response(payload, content_type=content_type)


@blp.route("/.well-known/jwks.json")
@blp.response(200, content_type="application/json")
def jwks() -> Response:
    """The JWK Set of server keys that sign responses and leases."""
    response = jsonify(server_keys.jwks(db.session()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
