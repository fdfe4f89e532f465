"""License telemetry and verification server."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

PREFIX = "LICENSING_"
OWNER_ONLY = 0o077  # umask: directories 0700, files 0600


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("licensing")
    except PackageNotFoundError:  # running from a checkout that is not installed
        return "0.0.0"


def __getattr__(name: str) -> str:
    # Looked up on use: reading package metadata costs every CLI start-up otherwise.
    if name == "__version__":
        return _version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def create_app(config: Mapping[str, Any] | None = None, *, serves_http: bool = True) -> Flask:
    """Build the application: the only place that wires settings, extensions and routes.

    ``config`` takes the ``LICENSING_*`` names of the environment (they win over it)
    and any Flask setting (``TESTING``, ...). ``serves_http=False`` (CLI commands that
    do not serve) leaves out the HTTP API: routes, OpenAPI, rate limits.
    """
    # The instance folder holds keys and data, some written by libraries (SQLite's -wal and
    # -shm, the metric files): whatever this process creates is for its owner only. The
    # mask is inherited by what the process runs (``licensing serve`` execs gunicorn).
    os.umask(OWNER_ONLY)
    from flask import Flask

    from licensing.config import load_settings

    overrides = dict(config or {})
    values = {k: v for k, v in os.environ.items() if k.startswith(PREFIX)}
    values.update({k: v for k, v in overrides.items() if k.startswith(PREFIX)})
    instance_path = values.get("LICENSING_INSTANCE_PATH") or None
    app = Flask(
        __name__, instance_path=str(Path(instance_path).resolve()) if instance_path else None
    )
    from licensing.instance import owner_only, refuse_a_file

    refuse_a_file(Path(app.instance_path))
    owner_only(Path(app.instance_path))  # before anything reads or opens what is in it
    settings = load_settings(values, Path(app.instance_path))

    from licensing.logs import configure_logging

    configure_logging(settings.log_level, as_json=settings.log_json)
    _configure_flask(app, settings, serves_http=serves_http)
    app.config.update({k: v for k, v in overrides.items() if not k.startswith(PREFIX)})
    _wire(app, settings, serves_http=serves_http)
    return app


def _configure_flask(app: Flask, settings: Any, *, serves_http: bool) -> None:
    from licensing.database import engine_options
    from licensing.instance import instance_folder

    if settings.uses_embedded_database:
        instance_folder(Path(app.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings.database_url),
        MAX_CONTENT_LENGTH=64 * 1024,
        # flask-smorest does not forward a route's provide_automatic_options: no route
        # answers OPTIONS by itself (an instance path answers a signed 405).
        PROVIDE_AUTOMATIC_OPTIONS=False,
    )
    if serves_http:
        from licensing.api.openapi import openapi_config

        app.config.update(openapi_config(_version()))
    app.json.sort_keys = False  # type: ignore[attr-defined]


def _wire(app: Flask, settings: Any, *, serves_http: bool) -> None:
    from licensing.database import configure_engine, migrations_directory
    from licensing.extensions import db, migrate
    from licensing.runtime import build, install

    runtime = build(settings)
    install(app, runtime)
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
        runtime.attach_database(db.engine)
    migrate.init_app(app, db, directory=str(migrations_directory()))
    if serves_http:
        _wire_http(app, settings)


def _wire_http(app: Flask, settings: Any) -> None:
    from licensing.api import (
        edge,
        instance,
        meta,
        partner,
        problems,
        ratelimits,
        requests,
        signatures,
    )
    from licensing.api.openapi import api, register_docs

    requests.register(app)
    edge.register(app)
    problems.register(app)
    app.after_request(signatures.sign_instance_response)
    api.init_app(app)
    api.spec.components.security_scheme(
        "callHomeSignature",
        {
            "type": "apiKey",
            "in": "header",
            "name": "Signature",
            "description": "RFC 9421 hmac-sha256 over @method, @path and content-digest with "
            "the license's request-signing secret; see docs/protocol.md.",
        },
    )
    api.spec.components.security_scheme(
        "partnerApiKey",
        {"type": "http", "scheme": "bearer", "description": "A partner API key (lpk_...)."},
    )
    ratelimits.init(
        app,
        storage_uri=settings.redis_url,
        default_limit=settings.partner_rate_limit,
        auth_failure_limit=settings.partner_auth_failure_limit,
        embedded=settings.uses_embedded_database,
    )
    api.register_blueprint(meta.blp)
    api.register_blueprint(instance.blp)
    api.register_blueprint(partner.blp)
    register_docs(app)

    from licensing import console

    console.register(app, settings.console)
