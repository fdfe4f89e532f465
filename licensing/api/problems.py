"""Every error as problem+json (RFC 9457): domain errors, HTTP errors, validation, 500."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, has_request_context, json, request
from werkzeug.exceptions import HTTPException, InternalServerError

from licensing.api.requests import request_id
from licensing.api.signatures import INSTANCE_PREFIX, echo_members
from licensing.errors import PROBLEM_CONTENT_TYPE, LicensingError, problem_body

log = logging.getLogger(__name__)


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = problem_body(
        status=status, code=code, title=title, detail=detail, request_id=request_id(), errors=errors
    )
    if has_request_context() and request.path.startswith(INSTANCE_PREFIX):
        body.update(echo_members())  # instance problems are signed answers too (§3)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_licensing_error(error: LicensingError) -> Response:
    if error.status >= 500:
        # The client learns nothing of a server-side failure (PROTOCOL.md §7): not its
        # type, title or code, which would tell a broken seal from a bad configuration.
        log.error("server error %s: %s", error.code, error.detail)
        return internal_error()
    return problem_response(
        status=error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        errors=error.errors or ({} if error.status == 422 else None),
    )


def internal_error() -> Response:
    """The one answer to every server-side failure: ``500 INTERNAL_ERROR``, nothing more."""
    return problem_response(
        status=500,
        code="INTERNAL_ERROR",
        title="Internal server error",
        detail="The server could not complete the request.",
    )


def from_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    if status >= 500:
        return from_unexpected(error)
    data: dict[str, Any] = getattr(error, "data", None) or {}
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    errors = flatten_errors(data.get("messages") or data.get("errors") or {})
    code = "INVALID_REQUEST" if status in (400, 422) and (errors or status == 422) else _code(error)
    return problem_response(
        status=422 if code == "INVALID_REQUEST" else status,
        code=code,
        title="Invalid request" if code == "INVALID_REQUEST" else (error.name or "Error"),
        detail=data.get("message") or error.description or error.name,
        errors=errors if code == "INVALID_REQUEST" else None,
        headers=headers,
    )


def from_unexpected(error: Exception) -> Response:
    original = getattr(error, "original_exception", None) or error
    if not isinstance(original, InternalServerError):
        log.error("unhandled error", exc_info=original)
    return internal_error()


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow errors, nested by location and field, as ``field -> [message]``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            # Locations ("json", "query", ...) and list indices are not field names.
            is_location = not prefix and key in (
                "json",
                "query",
                "form",
                "headers",
                "path_view_args",
                "view_args",
                "files",
                "cookies",
            )
            name = prefix if is_location else (f"{prefix}.{key}" if prefix else str(key))
            for field, texts in flatten_errors(value, name).items():
                flat.setdefault(field, []).extend(texts)
    elif isinstance(messages, list | tuple):
        for item in messages:
            if isinstance(item, Mapping | list | tuple):
                for field, texts in flatten_errors(item, prefix).items():
                    flat.setdefault(field, []).extend(texts)
            else:
                flat.setdefault(prefix or "_schema", []).append(str(item))
    else:
        flat.setdefault(prefix or "_schema", []).append(str(messages))
    return flat


def _code(error: HTTPException) -> str:
    if error.code == 429:
        return "RATE_LIMITED"
    return (error.name or "error").upper().replace(" ", "_").replace("'", "")


def register(app: Flask) -> None:
    app.register_error_handler(LicensingError, from_licensing_error)
    app.register_error_handler(HTTPException, from_http_exception)
    app.register_error_handler(Exception, from_unexpected)
