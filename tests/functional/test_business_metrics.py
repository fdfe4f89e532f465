"""``/metrics`` carries the business figures, and no label says whose they are.

Counters live in the process (and add up over the test session), so each is read before
and after; the activations gauge is a figure of the database, read when scraped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pytest
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from licensing.crypto import license_keys
from licensing.crypto.sealing import Sealer
from licensing.services import activations, licenses
from tests.functional.instance_client import Instance
from tests.functional.metrics_scrape import exposition, samples
from tests.functional.partner_client import answer, problem, register
from tests.signing import content_digest, new_nonce

CHECK_INS = "/v1/instance/check-ins"
# name -> label of the counters a scrape is compared on (name as exposed, with _total).
COUNTERS = {
    "licensing_check_ins_total": "code",
    "licensing_signature_failures_total": "code",
    "licensing_partner_checks_total": "result",
}


def figures(client: FlaskClient) -> dict[tuple[str, str], float]:
    """(series, label value) -> value of the business counters and the activations gauge."""
    found: dict[tuple[str, str], float] = {}
    for name, labels, value in samples(exposition(client)):
        if name in COUNTERS:
            found[name, labels[COUNTERS[name]]] = value
        elif name == "licensing_activations":
            found[name, labels["status"]] = value
        elif name == "licensing_check_in_batch_size_count":
            found[name, ""] = value
    return found


def changes(
    before: Mapping[tuple[str, str], float], after: Mapping[tuple[str, str], float]
) -> dict[tuple[str, str], float]:
    moved = {series: value - before.get(series, 0.0) for series, value in after.items()}
    return {series: delta for series, delta in moved.items() if delta}


def test_the_business_figures_count_what_happened_and_name_nobody(
    client: FlaskClient, instance: Instance, session: Session, sealer: Sealer, actor: str
) -> None:
    licensed = instance.licensed
    seller = register(client, session, sealer, products=[licensed.product])
    batched = session.get_bind().dialect.name == "postgresql"  # the group commit
    before = figures(client)
    assert before["licensing_activations", "active"] == 0
    assert before["licensing_activations", "released"] == 0

    assert (instance.activate().status, instance.activate().status) == (201, 200)
    assert instance.check_in().code == "VALID"
    assert instance.other().check_in().code == "NOT_ACTIVATED"
    nonce = new_nonce()
    assert instance.check_in(sign_options={"nonce": nonce}).code == "VALID"
    assert instance.check_in(sign_options={"nonce": nonce}).code == "NONCE_REPLAYED"
    request = instance.signed("POST", CHECK_INS, instance.check_in_body())
    tampered = b'{"fingerprint": "someone-else"}'
    headers = {**request.headers, "Content-Digest": content_digest(tampered)}
    assert instance.deliver(request, headers=headers, body=tampered).code == "SIGNATURE_INVALID"
    unsigned = {"Content-Type": "application/json"}
    assert instance.deliver(request, headers=unsigned, expect_nonce=None).code == (
        "SIGNATURE_MISSING"
    )
    assert answer(seller.check(licensed.key))["license"]["code"] == "VALID"
    problem(seller.check(license_keys.generate().display), 404, "LICENSE_NOT_FOUND")
    licenses.suspend(session, licensed.license, reason="unpaid", actor=actor)
    session.commit()
    assert instance.check_in().code == "SUSPENDED"
    text = exposition(client)
    after = figures(client)

    expected = {
        ("licensing_check_ins_total", "VALID"): 2,
        ("licensing_check_ins_total", "NOT_ACTIVATED"): 1,
        ("licensing_check_ins_total", "SUSPENDED"): 1,
        ("licensing_signature_failures_total", "NONCE_REPLAYED"): 1,
        ("licensing_signature_failures_total", "SIGNATURE_INVALID"): 1,
        ("licensing_signature_failures_total", "SIGNATURE_MISSING"): 1,
        ("licensing_partner_checks_total", "VALID"): 1,
        ("licensing_partner_checks_total", "LICENSE_NOT_FOUND"): 1,
        ("licensing_activations", "active"): 1,
    }
    if batched:  # every check-in that reached its statement, a replay too, one per batch
        expected["licensing_check_in_batch_size_count", ""] = 5
    assert changes(before, after) == expected
    assert after["licensing_activations", "released"] == 0
    # Nothing that names a license, an instance, a partner or an address, anywhere.
    _, partner_key_id, _ = seller.token.split("_", 2)
    personal = {
        licensed.key,
        licensed.credentials.key_id,
        str(licensed.license.id),
        seller.token,
        partner_key_id,
        seller.partner.name,
        instance.fingerprint,
        instance.server_name,
        "127.0.0.1",
        nonce,
    }
    for value in personal:
        assert value not in text, value
    label_values = {value for _, labels, _ in samples(text) for value in labels.values()}
    assert not {value for value in label_values if any(p in value for p in personal)}


def test_the_counters_are_served_while_the_database_is_down(
    client: FlaskClient,
    instance: Instance,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert instance.check_in().code == "NOT_ACTIVATED"

    def unreachable(session: Session) -> Mapping[str, int]:
        raise OperationalError("SELECT ...", {}, Exception("connection to db.internal refused"))

    monkeypatch.setattr(activations, "count_by_status", unreachable)
    with caplog.at_level(logging.WARNING, logger="licensing.api.meta"):
        response = client.get("/metrics")

    assert response.status_code == 200
    names = {name for name, _, _ in samples(response.get_data(as_text=True))}
    assert "licensing_check_ins_total" in names
    assert "licensing_activations" not in names
    warnings = [r.getMessage() for r in caplog.records if r.name == "licensing.api.meta"]
    assert warnings == [
        "metrics: activations by status left out, the database failed (OperationalError)"
    ]
    assert "db.internal" not in caplog.text
    monkeypatch.undo()
    assert ("licensing_activations", "active") in figures(client)  # back once it answers
