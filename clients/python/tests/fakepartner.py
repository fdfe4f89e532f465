"""A fake partner API (PROTOCOL.md §6) behind a requests adapter: unsigned JSON answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from licensing_client import PartnerClient
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

BASE_URL = "http://partner.test"
# Shaped like the server's keys (lpk_<key id>_<secret>); not a real key.
API_KEY = "lpk_wCyfsiyRjHeg_5OWWnvcSowBZ_Uxcg99CmnXVM4uwaDEJQmC3wS2hft0"
API_KEY_ID = "wCyfsiyRjHeg"
REQUEST_ID = "3f9a1c0e5b7d4e2f8a6c1b0d9e8f7a6b"


@dataclass
class Answer:
    """What the fake server answers: a JSON body (or raw bytes), or an exception."""

    status: int = 200
    body: dict[str, Any] | list[Any] | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error: Exception | None = None


@dataclass
class Received:
    method: str
    path: str
    headers: CaseInsensitiveDict[str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


Handler = Callable[[Received], Answer]


class FakePartnerServer(BaseAdapter):
    """Answers queued answers in order, then ``default``; records every request."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Received] = []
        self.answers: list[Answer | Handler] = []
        self.default: Handler | None = None

    def queue(self, *answers: Answer | Handler) -> None:
        self.answers.extend(answers)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        assert isinstance(body, bytes)
        received = Received(
            method=str(request.method),
            path=request.path_url,
            headers=CaseInsensitiveDict({k: str(v) for k, v in request.headers.items()}),
            body=body,
        )
        self.received.append(received)
        if self.answers:
            item = self.answers.pop(0)
        elif self.default is not None:
            item = self.default
        else:
            raise AssertionError(f"unexpected request {received.method} {received.path}")
        answer = item(received) if callable(item) else item
        if answer.error is not None:
            raise answer.error
        return _response(request, answer)

    def close(self) -> None:
        pass


def _response(request: requests.PreparedRequest, answer: Answer) -> requests.Response:
    response = requests.Response()
    response.status_code = answer.status
    response.reason = "fake"
    response.url = str(request.url)
    response.request = request
    response.encoding = "utf-8"
    is_problem = isinstance(answer.body, dict) and "code" in answer.body
    content_type = "application/problem+json" if is_problem else "application/json"
    response.headers = CaseInsensitiveDict(
        {"Content-Type": content_type, "X-Request-Id": REQUEST_ID}
    )
    response.headers.update(answer.headers)
    if isinstance(answer.body, bytes):
        response._content = answer.body
    else:
        response._content = json.dumps(answer.body).encode() if answer.body is not None else b""
    return response


def license_object(**overrides: Any) -> dict[str, Any]:
    """The ``license`` object of a partner answer, exactly the §6 members."""
    data: dict[str, Any] = {
        "product": "demo-mailserver",
        "edition": "standard",
        "status": "active",
        "valid": True,
        "code": "VALID",
        "expires_at": None,
        "upgrade_protection_until": "2027-01-01T00:00:00Z",
        "activations": {"used": 1, "allowed": 3},
    }
    data.update(overrides)
    return data


def upgrade_object(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "target_version": "2.1.0",
        "eligible": True,
        "reason": "COVERED",
        "latest_eligible_version": "2.1.0",
        "renewal_required": False,
    }
    data.update(overrides)
    return data


def check_answer(
    license: dict[str, Any] | None = None, upgrade: dict[str, Any] | None = None
) -> Answer:
    body: dict[str, Any] = {"license": license or license_object()}
    if upgrade is not None:
        body["upgrade"] = upgrade
    return Answer(body=body)


def releases_answer(product: str = "demo-mailserver") -> Answer:
    return Answer(
        body={
            "product": product,
            "releases": [
                {"version": "1.0.0", "released_at": "2025-01-15T00:00:00Z"},
                {"version": "2.0.0", "released_at": "2026-03-01T12:00:00Z"},
                {"version": "2.1.0", "released_at": "2026-09-01T00:00:00Z"},
            ],
        }
    )


def problem(status: int, code: str, detail: str = "problem", **extra: Any) -> Answer:
    """A §7 problem: every member present, ``request_id`` equal to ``X-Request-Id``."""
    body = {
        "type": f"/problems/{code.lower().replace('_', '-')}",
        "title": "Problem",
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": REQUEST_ID,
        **extra,
    }
    return Answer(status=status, body=body)


@dataclass
class PartnerHarness:
    """A partner client wired to the fake server, with the sleeps it asked for."""

    client: PartnerClient
    server: FakePartnerServer
    sleeps: list[float]
    make_client: Callable[..., PartnerClient]
