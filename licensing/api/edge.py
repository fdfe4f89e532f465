"""What every request meets before a view: its URL as sent, its body bounded and typed.

One mechanism for all endpoints, in this order (docs/protocol.md, decision 17):

1. Routing answers first: an unknown path is ``404``, a wrong method ``405`` (also
   ``OPTIONS``: no automatic answers), and the URL map merges no slashes, so a path is
   served only as it is spelt, in the raw request target too: a leading ``//`` or a
   percent-escape of a letter, digit or ``/`` is ``404``. The one redirect left
   (``/docs`` to ``/docs/``) carries a relative ``Location``: it never echoes ``Host``.
2. Path parameters that may not be stored (a NUL, a lone surrogate) are ``422``.
3. The body is read once, never past ``MAX_CONTENT_LENGTH``, chunked or not: ``413``.
4. A body sent to the API (a blueprint built with :class:`Blueprint`) is JSON or
   nothing: ``415`` naming ``application/json``. The console's forms are not JSON.

A ``GET`` or ``HEAD`` body is not read at all (it has no meaning).

The JSON document itself is decoded later, strictly (:mod:`licensing.api.documents`),
when a view's arguments are loaded: after authentication, so under ``/v1/instance/``
after the signature table, where every other ``422`` is answered too.
"""

from __future__ import annotations

import io
import re
from typing import IO, Any
from urllib.parse import urlsplit

import flask
import flask_smorest
from flask import Flask, request
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import (
    LengthRequired,
    NotFound,
    RequestEntityTooLarge,
    UnsupportedMediaType,
)
from werkzeug.routing import RequestRedirect
from werkzeug.utils import cached_property

from licensing.api import documents
from licensing.errors import InvalidRequest

JSON = "application/json"
_UTF8 = ("utf-8", "utf8")
_BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


class _StrictJson:
    """``request.get_json()`` reads through the same strict decoder as the views do."""

    @staticmethod
    def loads(data: str | bytes, **_: Any) -> Any:
        if isinstance(data, str):  # a surrogate survives encoding, to be refused as text
            data = data.encode("utf-8", "surrogatepass")
        return documents.decode(data)


class Request(flask.Request):
    """Flask's request, whose body is never read past the size limit, chunked or not.

    Werkzeug stops reading a chunked body at the limit and hands on what it read, a
    truncated body that then fails later for another reason (a digest, JSON); here one
    byte more than the limit is read, and a body that has it is ``413`` like a sized one.
    """

    @property
    def json_module(self) -> Any:
        return _StrictJson

    @json_module.setter
    def json_module(self, _: Any) -> None:
        # Flask hands each request the application's JSON provider; a body is read by
        # the strict decoder whichever way a view asks for it (request.get_json too).
        pass

    @cached_property
    def stream(self) -> IO[bytes]:
        if "HTTP_TRANSFER_ENCODING" not in self.environ or self.content_length is not None:
            return super().stream
        if not self.environ.get("wsgi.input_terminated"):
            # The server leaves the chunked framing to us: nothing reads it safely.
            raise LengthRequired("Send the body with a Content-Length.")
        limit = self.max_content_length
        raw: IO[bytes] = self.environ["wsgi.input"]
        if limit is None:
            return raw
        parts, size = [], 0
        while size <= limit:
            part = raw.read(limit + 1 - size)
            if not part:
                break
            parts.append(part)
            size += len(part)
        if size > limit:
            raise RequestEntityTooLarge()
        return io.BytesIO(b"".join(parts))


class _BodyParser(FlaskParser):
    """webargs, reading ``json`` through the strict decoder whatever the declared type.

    (The type was checked at the edge; a body-less request is decoded too, so that it
    is refused as "not JSON" rather than as a list of missing fields.)
    """

    def _raw_load_json(self, req: flask.Request) -> Any:
        return documents.decode(req.get_data(cache=True))


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """flask-smorest's blueprint with the strict body parser; documents 413 and 415."""

    ARGUMENTS_PARSER = _BodyParser()

    def route(self, rule: str, **options: Any) -> Any:
        register = super().route(rule, **options)
        takes_bodies = not _BODILESS.issuperset(options.get("methods") or ("GET",))

        def decorator(func: Any) -> Any:
            if takes_bodies:
                func = self.alt_response(413, "REQUEST_ENTITY_TOO_LARGE")(func)
                func = self.alt_response(415, "UNSUPPORTED_MEDIA_TYPE")(func)
            return register(func)

        return decorator


def _check_request() -> None:
    if _spelt_otherwise():
        raise NotFound()
    if request.routing_exception is not None:
        _relative_redirect()
        return  # routing answers: 404, 405, or the redirect
    problems = {
        name: [reason]
        for name, value in (request.view_args or {}).items()
        if isinstance(value, str) and (reason := documents.text_problem(value)) is not None
    }
    if problems:
        raise InvalidRequest("The request path was refused; see errors.", errors=problems)
    if not _routed_to_the_api():
        return  # not the API: the staff console's pages post HTML forms, never JSON
    # A GET or HEAD body means nothing (RFC 9110 §9.3.1): it is never read at all.
    if request.method not in _BODILESS and request.get_data(cache=True) and not _declares_json():
        raise UnsupportedMediaType(f"The body must be {JSON} (UTF-8).")


def _routed_to_the_api() -> bool:
    """Whether the endpoint routed to belongs to one of the API's blueprints.

    The API's blueprints (instance, partner, meta) are built with this module's
    ``Blueprint``; the console's, the docs' and flask-smorest's own are not. So a new
    API blueprint is checked as soon as it exists, and no face is left out by its path.
    """
    name = request.blueprint
    return name is not None and isinstance(flask.current_app.blueprints.get(name), Blueprint)


# A character a route may spell literally (RFC 3986 unreserved) or the segment separator.
_LITERAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def _spelt_otherwise() -> bool:
    """Whether the path was sent in another spelling than the one routed (and signed).

    The server decodes percent-escapes and drops leading slashes before routing, so
    ``//v1/instance/check-ins``, ``/v1/instance/%63heck-ins`` and ``/v1%2Finstance/...``
    would reach the endpoint whose ``@path`` differs from the one the client signed.
    The raw request target decides: a leading ``//``, or an escape of a character a
    path spells as itself, is not this server's path. An escape of anything else (a NUL,
    a byte that is not UTF-8) can only be part of a path parameter, checked next.
    """
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        return False  # a server that keeps no raw target: the routed path is all there is
    path = raw.split("?", 1)[0]
    if not path.startswith("/"):  # absolute form: "http://host/path"
        path = urlsplit(path).path or "/"
    if path.startswith("//"):
        return True
    return any(chr(int(code, 16)) in _LITERAL for code in _ESCAPE.findall(path))


def _declares_json() -> bool:
    if request.environ.get("CONTENT_TYPE") == JSON:  # as every client of ours spells it
        return True
    return request.mimetype == JSON and request.mimetype_params.get("charset", "utf-8").lower() in (
        _UTF8
    )


def _relative_redirect() -> None:
    redirect = request.routing_exception
    if isinstance(redirect, RequestRedirect):
        # Werkzeug spells the target with the Host header the client sent.
        target = urlsplit(redirect.new_url)
        # One leading slash: "//host/..." would be read as another host's address.
        relative = "/" + target.path.lstrip("/") + (f"?{target.query}" if target.query else "")
        request.routing_exception = RequestRedirect(relative)


def register(app: Flask) -> None:
    """Before any blueprint registers its rules: the URL map settings bind at add time."""
    app.request_class = Request
    app.url_map.merge_slashes = False
    app.before_request(_check_request)
