"""Operational endpoints: liveness, readiness, metrics, and the server's public keys."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_smorest import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from licensing import metrics
from licensing.api.problems import problem_response
from licensing.database import schema_is_current
from licensing.extensions import db
from licensing.services import activations, server_keys

blp = Blueprint("meta", __name__, description="Health, readiness, metrics and public keys.")


@blp.route("/healthz")
@blp.response(200, content_type="application/json")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.response(200, content_type="application/json")
@blp.alt_response(503, description="Database unreachable or schema not at the latest migration.")
def readyz() -> Any:
    """Readiness: the database answers and its schema is at the latest migration."""
    try:
        # Through the request's session: on SQLite a second connection would queue
        # behind any write lock the request already holds.
        connection = db.session.connection()
        connection.execute(text("SELECT 1"))
        current = schema_is_current(connection)
    except SQLAlchemyError:
        return problem_response(
            status=503, code="NOT_READY", title="Not ready", detail="The database is unreachable."
        )
    if not current:
        return problem_response(
            status=503,
            code="NOT_READY",
            title="Not ready",
            detail="The database schema is not at the latest migration: "
            "run `licensing db upgrade`.",
        )
    return {"status": "ready", "database": "ok", "migrations": "current"}


@blp.route("/metrics")
@blp.response(200, content_type="text/plain")
def prometheus_metrics() -> Response:
    """Prometheus metrics in the text exposition format."""
    payload, content_type = metrics.exposition(
        activations=lambda: activations.count_by_status(db.session())
    )
    return Response(payload, content_type=content_type)


@blp.route("/.well-known/jwks.json")
@blp.response(200, content_type="application/json")
def jwks() -> Response:
    """The JWK Set of server keys that sign responses and leases."""
    response = jsonify(server_keys.jwks(db.session()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
