"""The OpenAPI document (flask-smorest) and its self-hosted docs page (no CDN)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from flask_swagger_ui import get_swaggerui_blueprint
from marshmallow import INCLUDE

from licensing.errors import PROBLEM_CONTENT_TYPE
from licensing.schemas.common import ProblemSchema

DOCS_PATH = "/docs"


class GenericProblemSchema(ProblemSchema):
    """A problem of any endpoint: the members of §7, and maybe extension members."""

    class Meta:
        unknown = INCLUDE


class LicensingApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, leaving error rendering to ``licensing.api.problems``.

    Its stock error responses (``default``, and the ``422`` of a validated body) are
    documented as they are answered: problems, ``application/problem+json``.
    """

    ERROR_SCHEMA = GenericProblemSchema

    def _register_error_handlers(self) -> None:
        return None

    def _register_responses(self) -> None:
        for status in HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


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
            DOCS_PATH,
            "/openapi.json",
            # No "online validator" badge: it would make every visitor fetch an outside URL.
            config={"app_name": "Licensing API", "validatorUrl": None},
            blueprint_name="docs",
        )
    )
