"""Misuse detection end to end: signed check-ins behind a trusted proxy, a scan, a case with
its evidence, confirm + suspend, and the next check-in answers SUSPENDED."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.models import AuditEvent, LicenseStatus
from tests.functional.cli.invoke import Licensing
from tests.functional.instance_client import Answer, Instance, Licensed

PROXY = "192.0.2.10"  # the reverse proxy: the peer address of every request
# Six /24 networks and one /48: more than the default network_spread_networks (5).
SITES = [f"203.0.{n}.7" for n in range(1, 7)] + ["2001:db8:42::7"]
NETWORKS = [f"203.0.{n}.0/24" for n in range(1, 7)] + ["2001:db8:42::/48"]


def _from(instance: Instance, address: str, path: str, body: dict[str, Any]) -> Answer:
    signed = instance.signed("POST", path, body)
    return instance.deliver(signed, headers={**signed.headers, "X-Forwarded-For": address})


def test_check_ins_from_many_networks_become_a_case_that_suspends_the_license(
    proxied_app: Flask, licensed: Licensed, licensing: Licensing, session: Session
) -> None:
    instance = Instance(
        client=proxied_app.test_client(), licensed=licensed, environ={"REMOTE_ADDR": PROXY}
    )
    assert (
        _from(instance, SITES[0], "/v1/instance/activations", instance.activation_body()).status
        == 201
    )
    for address in SITES:
        answer = _from(instance, address, "/v1/instance/check-ins", instance.check_in_body())
        assert (answer.status, answer.code) == (200, "VALID")
    session.commit()

    scanned = licensing.json("misuse", "scan")

    assert scanned["findings"]["NETWORK_SPREAD"] == 1
    assert scanned["cases_opened"] == 1
    cases = licensing.json("misuse", "cases", "--license", licensed.license.key_id)
    spread = [c for c in cases if c["rule"] == "NETWORK_SPREAD"]
    assert len(spread) == 1 and spread[0]["status"] == "open"
    case = licensing.json("misuse", "case", "show", spread[0]["id"])
    evidence = case["evidence"]
    # The networks the proxy forwarded, not the proxy's own; prefixes, never raw addresses.
    assert sorted(n["network"] for n in evidence["networks"]) == sorted(NETWORKS)
    assert evidence["distinct_networks"] == len(NETWORKS)
    assert evidence["addresses"] == len(SITES)
    assert evidence["ruled_out"]
    shown = json.dumps(case)
    assert all(address not in shown for address in [*SITES, PROXY])
    assert "192.0.2." not in shown

    confirmed = licensing.json(
        "misuse", "case", "confirm", case["id"], "--reason", "used at seven sites", "--suspend"
    )

    assert confirmed["status"] == "confirmed"
    assert licensed.license.status == LicenseStatus.SUSPENDED
    session.commit()
    answer = _from(instance, SITES[0], "/v1/instance/check-ins", instance.check_in_body())
    assert answer.code == "SUSPENDED"
    assert answer.body["valid"] is False
    actions = list(
        session.scalars(
            select(AuditEvent.action)
            .where(
                AuditEvent.action.in_(
                    ["misuse_case.opened", "misuse_case.confirmed", "license.suspended"]
                )
            )
            .order_by(AuditEvent.seq)
        )
    )
    assert actions == ["misuse_case.opened", "license.suspended", "misuse_case.confirmed"]
