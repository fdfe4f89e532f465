"""Nothing logged at the default level carries a client's personal data or a secret.

All log output is captured through the application's own handler and formatter (the
JSON lines of a production server, at the default INFO level), while the hostile corpus
and a whole activation / check-in / partner check / deactivation cycle run with
distinctive values: the client address, server name, fingerprint, customer e-mail and
name, the license key (every spelling) and its key id, and the partner API key.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from licensing.crypto import license_keys
from licensing.crypto.sealing import Sealer
from licensing.extensions import db
from licensing.logs import configure_logging
from licensing.models import Product
from licensing.services import instance_calls
from tests import factories
from tests.functional.hostile import TARGETS, Caller, hostile_requests, make_caller
from tests.functional.instance_client import Instance, Licensed
from tests.signing import Credentials

CLIENT_IP = "203.0.113.77"
SERVER_NAME = "privacy-probe-7f3a.mail.example.org"
FINGERPRINT = "fp-privacy-probe-7f3a-0123456789abcdef"
EMAIL = "privacy.probe.7f3a@customer.example"
CUSTOMER = "Privacy Probe Customer 7f3a"
ENVIRON = {"REMOTE_ADDR": CLIENT_IP}


@pytest.fixture
def captured(app: Flask) -> Iterator[io.StringIO]:
    """Everything the application's log handler writes, as a production server does."""
    configure_logging("INFO", as_json=True)
    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == "licensing"]
    buffer = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        configure_logging("INFO", as_json=False)  # as the test session's app configured it


@pytest.fixture
def private_instance(
    client: FlaskClient, session: Session, sealer: Sealer, server_key: str, product: Product
) -> Instance:
    customer = factories.make_customer(session, name=CUSTOMER, email=EMAIL)
    edition = factories.make_edition(session, product=product, max_activations=5)
    issued = factories.make_license(session, sealer, edition=edition, customer=customer)
    session.flush()
    licensed = Licensed(
        license=issued.license,
        product=product,
        edition=edition,
        key=issued.key.display,
        credentials=Credentials.from_license_key(issued.key.display),
    )
    return Instance(
        client=client,
        licensed=licensed,
        fingerprint=FINGERPRINT,
        server_name=SERVER_NAME,
        environ=dict(ENVIRON),
    )


@pytest.fixture
def caller(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    private_instance: Instance,
    product: Product,
) -> Caller:
    return make_caller(client, session, sealer, private_instance, product, environ=ENVIRON)


def personal_values(caller: Caller) -> dict[str, str]:
    key = license_keys.parse(caller.license_key)
    token = caller.partner.token
    return {
        "client address": CLIENT_IP,
        "server name": SERVER_NAME,
        "fingerprint": FINGERPRINT,
        "customer e-mail": EMAIL,
        "customer name": CUSTOMER,
        "license key": key.display,
        "normalised license key": key.normalised,
        "lower-case license key": key.normalised.lower(),
        "license key id": key.key_id,
        "partner API key": token,
        # lpk_<key id>_<secret>: the key id has no "_", the secret may have several.
        "partner API key secret": token.split("_", 2)[2],
    }


def assert_nothing_personal(output: str, values: dict[str, str]) -> None:
    leaked = {what: value for what, value in values.items() if value in output}
    assert not leaked, f"logged: {leaked}\n{output[:4000]}"


def full_cycle(caller: Caller) -> list[int]:
    instance, partner = caller.instance, caller.partner
    statuses = [instance.activate().status]  # already active: 200
    statuses.append(instance.check_in(usage={"mailboxes": 7}).status)
    statuses.append(partner.check(caller.license_key, "2.0.0").status_code)
    statuses.append(partner.releases(caller.product_code).status_code)
    statuses.append(
        partner.check(caller.license_key, headers={"Authorization": "Bearer x"}).status_code
    )
    statuses.append(instance.deactivate(caller.activation_id).status)
    statuses.append(instance.check_in().status)  # no live activation now
    return statuses


def test_the_hostile_corpus_and_a_full_cycle_log_nothing_personal(
    caller: Caller, captured: io.StringIO
) -> None:
    sent = 0
    for name, body, options in hostile_requests(caller):
        reply = caller.send(TARGETS[name], body, **options)
        assert reply.status < 500, (name, options, reply.body)
        sent += 1
    statuses = full_cycle(caller)
    assert statuses == [200, 200, 200, 200, 401, 200, 404], statuses

    output = captured.getvalue()
    # The capture works: one access line per request (the cycle's and the corpus's).
    assert output.count('"message": "request"') >= sent + len(statuses), output[:2000]
    assert_nothing_personal(output, personal_values(caller))


def test_a_database_error_logs_its_statement_without_the_parameters(
    caller: Caller, captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: Any, **kwargs: Any) -> Any:
        # A statement that fails in the database, with the client's data as parameters.
        db.session.execute(
            text("SELECT :server_name, :email FROM no_such_table"),
            {"server_name": SERVER_NAME, "email": EMAIL},
        )
        raise AssertionError("the statement should have failed")

    monkeypatch.setattr(instance_calls, "activate", failing)
    answer = caller.instance.activate()
    assert (answer.status, answer.code) == (500, "INTERNAL_ERROR"), answer.body

    output = captured.getvalue()
    assert "no_such_table" in output, output  # the traceback was logged, with its SQL
    assert_nothing_personal(output, personal_values(caller))


def test_a_constraint_violation_logs_no_value_the_database_quotes(
    caller: Caller, captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL quotes the conflicting value (``DETAIL:  Key (email)=(...)``) in its error."""

    def failing(*args: Any, **kwargs: Any) -> Any:
        db.session.execute(text("CREATE TEMPORARY TABLE privacy_probe (email VARCHAR(200) UNIQUE)"))
        for _ in range(2):
            db.session.execute(text("INSERT INTO privacy_probe VALUES (:email)"), {"email": EMAIL})
        raise AssertionError("the second insert should have failed")

    monkeypatch.setattr(instance_calls, "activate", failing)
    answer = caller.instance.activate()
    assert (answer.status, answer.code) == (500, "INTERNAL_ERROR"), answer.body

    output = captured.getvalue()
    assert "privacy_probe" in output, output  # the traceback was logged, with its SQL
    assert "IntegrityError" in output, output
    assert_nothing_personal(output, personal_values(caller))


def test_database_errors_never_show_their_parameters(migrated_app: Flask) -> None:
    """Any text of any error, wherever it ends up (logs, a debugger, an error tracker).

    (Not the ``app`` fixture: its open transaction holds SQLite's write lock.)
    """
    with (
        migrated_app.app_context(),
        db.engine.connect() as connection,
        pytest.raises(SQLAlchemyError) as raised,
    ):
        connection.execute(text("SELECT :value FROM no_such_table"), {"value": EMAIL})
    assert "no_such_table" in str(raised.value)
    assert EMAIL not in str(raised.value)
