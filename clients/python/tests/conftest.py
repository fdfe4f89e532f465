"""Fixtures: clients wired to the fake servers of ``fakeserver.py`` and ``fakepartner.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fakepartner import API_KEY, FakePartnerServer, PartnerHarness
from fakepartner import BASE_URL as PARTNER_URL
from fakeserver import (
    BASE_URL,
    PRODUCT,
    VECTOR_KEY,
    Clock,
    FakeServer,
    Harness,
    ServerKey,
)
from licensing_client import InstanceClient, PartnerClient
from licensing_client.keys import LicenseKey


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server_key() -> ServerKey:
    return ServerKey.generate()


@pytest.fixture
def jwks(server_key: ServerKey) -> dict[str, Any]:
    return {"keys": [server_key.jwk]}


@pytest.fixture
def harness(
    tmp_path: Path, clock: Clock, server_key: ServerKey, jwks: dict[str, Any]
) -> Iterator[Harness]:
    key = LicenseKey.parse(VECTOR_KEY)
    server = FakeServer(key, server_key, clock)
    sleeps: list[float] = []
    sessions: list[requests.Session] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    def make_client(**overrides: Any) -> InstanceClient:
        session = requests.Session()
        session.trust_env = False
        session.mount(BASE_URL, server)
        sessions.append(session)
        options: dict[str, Any] = {
            "session": session,
            "clock": clock,
            "sleep": sleep,
            "product_version": "2.1.0",
            "server_name": "mail01.example.com",
        }
        options.update(overrides)
        return InstanceClient(BASE_URL, VECTOR_KEY, PRODUCT, tmp_path / "state", jwks, **options)

    yield Harness(make_client(), server, clock, sleeps, tmp_path / "state", make_client)
    for session in sessions:
        session.close()


@pytest.fixture
def partner() -> Iterator[PartnerHarness]:
    server = FakePartnerServer()
    sleeps: list[float] = []
    sessions: list[requests.Session] = []

    def make_client(**overrides: Any) -> PartnerClient:
        session = requests.Session()
        session.trust_env = False
        session.mount(PARTNER_URL, server)
        sessions.append(session)
        options: dict[str, Any] = {"session": session, "sleep": sleeps.append}
        options.update(overrides)
        api_key = options.pop("api_key", API_KEY)
        return PartnerClient(PARTNER_URL, api_key, **options)

    yield PartnerHarness(make_client(), server, sleeps, make_client)
    for session in sessions:
        session.close()
