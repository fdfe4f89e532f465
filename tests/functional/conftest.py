"""Fixtures for the instance (call-home) tests: a licensed product and its instances."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from licensing import create_app
from licensing.api import signatures
from licensing.crypto.sealing import Sealer
from licensing.models import Product
from licensing.services import server_keys
from tests import factories
from tests.functional.instance_client import Instance, Licensed
from tests.signing import Credentials

# Before every license issued in a test (whose protection runs a year from today).
RELEASES = (
    ("1.0.0", datetime(2024, 1, 15, tzinfo=UTC)),
    ("2.0.0", datetime(2025, 6, 1, tzinfo=UTC)),
)

MakeLicensed = Callable[..., Licensed]


@pytest.fixture
def server_key(session: Session, sealer: Sealer, actor: str) -> str:
    return server_keys.ensure_active_key(session, sealer, actor=actor).kid


@pytest.fixture
def product(session: Session) -> Product:
    product = factories.make_product(session)
    for version, released_at in RELEASES:
        factories.make_release(session, product=product, version=version, released_at=released_at)
    return product


@pytest.fixture
def make_licensed(
    session: Session, sealer: Sealer, server_key: str, product: Product
) -> MakeLicensed:
    """A license of a new edition of ``product``: 1 seat + 1 migration seat by default.

    Keyword arguments go to the edition's policy (``max_activations``,
    ``migration_allowance``, ``offline_grace_days``, ``entitlements``, ...) or, for
    ``expires_at`` and ``upgrade_protection_until``, to the license.
    """

    def make(**options: Any) -> Licensed:
        license_options = {
            name: options.pop(name)
            for name in ("expires_at", "upgrade_protection_until")
            if name in options
        }
        policy: dict[str, Any] = {"entitlements": ("archive", "webmail")}
        policy.update(options)
        edition = factories.make_edition(session, product=product, **policy)
        issued = factories.make_license(session, sealer, edition=edition, **license_options)
        session.flush()
        return Licensed(
            license=issued.license,
            product=product,
            edition=edition,
            key=issued.key.display,
            credentials=Credentials.from_license_key(issued.key.display),
        )

    return make


@pytest.fixture
def licensed(make_licensed: MakeLicensed) -> Licensed:
    return make_licensed()


@pytest.fixture
def instance(client: FlaskClient, licensed: Licensed) -> Instance:
    return Instance(client=client, licensed=licensed)


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> int:
    """Stop the server's clock (whole seconds) so window bounds can be hit exactly."""
    moment = datetime.now(UTC).replace(microsecond=0)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return moment if tz is not None else moment.replace(tzinfo=None)

    monkeypatch.setattr(signatures, "datetime", Frozen)
    return int(moment.timestamp())


@pytest.fixture
def proxied_app(app: Flask, app_config: dict[str, Any]) -> Flask:
    """An app that believes one proxy hop of X-Forwarded-For.

    It shares the test's rolled-back connection: ``db.session`` is the extension's,
    which the ``app`` fixture has bound to it.
    """
    return create_app({**app_config, "LICENSING_TRUSTED_PROXY_HOPS": "1"})


@pytest.fixture
def four_eyes_app(app: Flask, app_config: dict[str, Any]) -> Flask:
    """An app with ``LICENSING_FOUR_EYES`` on, sharing the test's rolled-back connection."""
    return create_app({**app_config, "LICENSING_FOUR_EYES": "true"})
