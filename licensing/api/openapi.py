"""The OpenAPI document (flask-smorest) and its self-hosted docs page (no CDN)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api
from flask_swagger_ui import get_swaggerui_blueprint

DOCS_PATH = "/docs"


class LicensingApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, leaving error rendering to ``licensing.api.problems``."""

    def _register_error_handlers(self) -> None:
        return None


api = LicensingApi()


def openapi_config(version: str) -> dict[str, Any]:
    return {
        "API_TITLE": "Licensing",
        "API_VERSION": version,
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_SPEC_OPTIONS": {
            "info": {
                "description": "License verification, call-home telemetry and partner checks. "
                "The wire contract is described in docs/protocol.md."
            },
        },
    }


def register_docs(app: Flask) -> None:
    app.register_blueprint(
        get_swaggerui_blueprint(
            DOCS_PATH, "/openapi.json", config={"app_name": "Licensing API"}, blueprint_name="docs"
        )
    )
