"""``licensing partner``: partners, their products, API keys (shown once) and disclosures.

Most commands run in-process inside the test's transaction; bad input goes through the
installed console script (one ``error:`` line, a non-zero exit, no traceback).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Base, Disclosure, Partner, PartnerKey, Product
from licensing.services import partners
from tests import factories
from tests.factories import latest_event
from tests.functional.cli.invoke import Licensing, fields, table
from tests.functional.cli.test_errors import describe, run
from tests.functional.partner_client import PartnerApi, disclosure_count

KEY_FIELDS = {"key_id", "label", "scopes", "state", "created_at", "expires_at", "last_used_at"}
PARTNER_FIELDS = {
    "id",
    "name",
    "kind",
    "status",
    "products",
    "allowed_networks",
    "rate_limit",
    "created_at",
}


@pytest.fixture
def product(session: Session) -> Product:
    product = factories.make_product(session)
    factories.make_release(session, product=product, version="1.0.0")
    return product


def key_parts(token: str) -> tuple[str, str]:
    """(key id, secret) of a well-formed API key."""
    parsed = partners.parse_token(token)
    assert parsed is not None, token
    return parsed


def partner_named(session: Session, name: str) -> Partner:
    session.expire_all()
    partner = session.scalar(select(Partner).where(Partner.name == name))
    assert partner is not None
    return partner


# --- partners ---------------------------------------------------------------------------------


def test_partner_add(licensing: Licensing, session: Session, product: Product) -> None:
    record = fields(
        licensing.ok(
            *("partner", "add", "Acme Hosting", "--kind", "lease_provider"),
            *("--allow", "192.0.2.7", "--allow", "2001:db8:1::/48", "--allow", "10.1.2.3/8"),
            *("--rate-limit", "120/minute", "--product", product.code),
        )
    )

    partner = partner_named(session, "Acme Hosting")
    assert record["id"] == str(partner.id)
    assert (partner.kind, partner.status, partner.rate_limit) == (
        "lease_provider",
        "active",
        "120/minute",
    )
    # Networks are normalised: a bare address is a /32, host bits are dropped.
    assert sorted(partner.allowed_networks) == ["10.0.0.0/8", "192.0.2.7/32", "2001:db8:1::/48"]
    assert [link.product_id for link in partner.products] == [product.id]
    assert record["products"] == product.code
    assert record["rate_limit"] == "120/minute"
    event = latest_event(session)
    assert (event.action, event.subject_id) == ("partner.product_added", str(partner.id))
    assert event.actor.startswith("cli:")


def test_partner_add_json_with_defaults(licensing: Licensing) -> None:
    added = licensing.json("partner", "add", "Plain Reseller", "--kind", "reseller")

    assert set(added) == PARTNER_FIELDS
    assert (added["kind"], added["status"], added["products"]) == ("reseller", "active", [])
    assert (added["allowed_networks"], added["rate_limit"]) == ([], "(default)")
    uuid.UUID(added["id"])


def test_partner_list(licensing: Licensing, session: Session, product: Product) -> None:
    assert licensing.ok("partner", "list").strip() == "(none)"
    assert licensing.json("partner", "list") == []
    factories.make_partner(session, name="Zeta Resale", products=[product], rate_limit="5/minute")
    factories.make_partner(session, name="Alpha Leases", kind="lease_provider")

    rows = table(licensing.ok("partner", "list"))

    assert rows == [
        {
            "name": "Alpha Leases",
            "kind": "lease_provider",
            "status": "active",
            "products": "-",
            "rate_limit": "(default)",
        },
        {
            "name": "Zeta Resale",
            "kind": "reseller",
            "status": "active",
            "products": product.code,
            "rate_limit": "5/minute",
        },
    ]
    listed = licensing.json("partner", "list")
    assert [p["name"] for p in listed] == ["Alpha Leases", "Zeta Resale"]
    assert all(set(p) == PARTNER_FIELDS for p in listed)


def test_partner_show_by_name_or_id_with_its_keys(
    licensing: Licensing, session: Session, sealer: Sealer, product: Product
) -> None:
    partner = factories.make_partner(session, name="Shown", products=[product])
    issued = factories.make_partner_key(session, sealer, partner=partner, label="billing")

    by_name = licensing.json("partner", "show", "Shown")
    by_id = licensing.json("partner", "show", str(partner.id))

    assert by_name == by_id
    assert set(by_name) == PARTNER_FIELDS | {"keys"}
    (key,) = by_name["keys"]
    assert set(key) == KEY_FIELDS
    assert (key["key_id"], key["label"], key["state"]) == (issued.key.key_id, "billing", "active")
    output = licensing.ok("partner", "show", "Shown")
    assert issued.token not in output + json.dumps(by_name)


def test_suspend_and_reinstate(
    licensing: Licensing, session: Session, sealer: Sealer, product: Product, client: FlaskClient
) -> None:
    partner = factories.make_partner(session, name="Wobbly", products=[product])
    api = PartnerApi(client, partner, factories.make_partner_key(session, sealer, partner=partner))
    session.commit()
    assert api.releases(product.code).status_code == 200

    suspended = licensing.json("partner", "suspend", "Wobbly")

    assert suspended["status"] == "suspended"
    assert partner_named(session, "Wobbly").status == "suspended"
    assert latest_event(session).action == "partner.suspended"
    assert api.releases(product.code).status_code == 403
    assert "already suspended" in str(licensing.fails("partner", "suspend", "Wobbly"))

    assert licensing.json("partner", "reinstate", str(partner.id))["status"] == "active"
    assert latest_event(session).action == "partner.active"
    assert api.releases(product.code).status_code == 200


def test_products_add_and_remove(licensing: Licensing, session: Session, product: Product) -> None:
    other = factories.make_product(session)
    factories.make_partner(session, name="Seller", products=[product])

    added = licensing.json("partner", "products", "add", "Seller", other.code)

    assert added["products"] == sorted([product.code, other.code])
    assert {link.product_id for link in partner_named(session, "Seller").products} == {
        product.id,
        other.id,
    }
    event = latest_event(session)
    assert (event.action, event.data) == ("partner.product_added", {"product": other.code})

    removed = licensing.json("partner", "products", "remove", "Seller", product.code)

    assert removed["products"] == [other.code]
    assert [link.product_id for link in partner_named(session, "Seller").products] == [other.id]
    assert latest_event(session).data == {"product": product.code}
    assert "is not registered for" in str(
        licensing.fails("partner", "products", "remove", "Seller", product.code)
    )
    assert "already registered" in str(
        licensing.fails("partner", "products", "add", "Seller", other.code)
    )


# --- keys ---------------------------------------------------------------------------------------


def stored_values(session: Session) -> list[tuple[str, str, Any]]:
    """Every value of every column of every table: (table, column, value)."""
    session.flush()
    found = []
    for table_ in Base.metadata.sorted_tables:
        for row in session.execute(table_.select()).mappings():
            found += [(table_.name, column, value) for column, value in row.items()]
    return found


def test_key_create_shows_the_key_once_and_stores_only_a_digest(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    partner = factories.make_partner(session, name="Keyed")

    created = licensing.json("partner", "key", "create", "Keyed", "--label", "shop backend")

    assert set(created) == KEY_FIELDS | {"api_key"}
    token = created["api_key"]
    key_id, secret = key_parts(token)
    assert token == f"lpk_{key_id}_{secret}"
    assert created["key_id"] == key_id
    assert (created["label"], created["state"], created["expires_at"]) == (
        "shop backend",
        "active",
        None,
    )
    assert sorted(created["scopes"]) == ["licenses:check", "releases:read"]
    key = session.scalar(select(PartnerKey).where(PartnerKey.key_id == key_id))
    assert key is not None and key.partner_id == partner.id
    assert key.digest == partners.secret_digest(sealer, secret)
    leaks = [
        (table_, column)
        for table_, column, value in stored_values(session)
        if value is not None
        and (
            secret.encode() in value
            if isinstance(value, bytes)
            else secret in json.dumps(value, default=str)
        )
    ]
    assert leaks == []
    event = latest_event(session)
    assert (event.action, event.data) == (
        "partner.key_created",
        {"key_id": key_id, "scopes": ["licenses:check", "releases:read"]},
    )
    # Never shown again.
    for args in (("partner", "key", "list", "Keyed"), ("partner", "show", "Keyed")):
        assert secret not in licensing.ok(*args) + licensing.ok(*args, "--json")


def test_key_create_with_one_scope_and_an_expiry(licensing: Licensing, session: Session) -> None:
    factories.make_partner(session, name="Narrow")
    expiry = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()

    created = licensing.json(
        *("partner", "key", "create", "Narrow", "--scope", "releases:read", "--expires", expiry)
    )

    assert created["scopes"] == ["releases:read"]
    assert created["expires_at"] == f"{expiry}T00:00:00Z"


def test_a_key_made_by_the_cli_opens_the_api(
    licensing: Licensing, session: Session, product: Product, client: FlaskClient
) -> None:
    factories.make_partner(session, name="Api User", products=[product])
    token = licensing.json("partner", "key", "create", "Api User", "--scope", "releases:read")[
        "api_key"
    ]
    headers = {"Authorization": f"Bearer {token}"}

    assert client.get(f"/v1/partner/products/{product.code}/releases", headers=headers).json == {
        "product": product.code,
        "releases": [{"version": "1.0.0", "released_at": "2024-01-15T00:00:00Z"}],
    }
    licensing.ok("partner", "key", "revoke", key_parts(token)[0])
    response = client.get(f"/v1/partner/products/{product.code}/releases", headers=headers)
    assert response.status_code == 401


def test_key_list_and_revoke(licensing: Licensing, session: Session, sealer: Sealer) -> None:
    partner = factories.make_partner(session, name="Many Keys")
    assert licensing.ok("partner", "key", "list", "Many Keys").strip() == "(none)"
    first = factories.make_partner_key(session, sealer, partner=partner, label="first")
    second = factories.make_partner_key(
        session,
        sealer,
        partner=partner,
        label="second",
        scopes=["licenses:check"],
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    second.key.expires_at = datetime.now(UTC) - timedelta(minutes=1)

    revoked = licensing.json("partner", "key", "revoke", first.key.key_id)

    assert (revoked["key_id"], revoked["state"]) == (first.key.key_id, "revoked")
    event = latest_event(session)
    assert (event.action, event.data) == ("partner.key_revoked", {"key_id": first.key.key_id})
    listed = licensing.json("partner", "key", "list", "Many Keys")
    assert all(set(row) == KEY_FIELDS for row in listed)
    assert [(row["label"], row["state"]) for row in listed] == [
        ("first", "revoked"),
        ("second", "expired"),
    ]
    rows = table(licensing.ok("partner", "key", "list", "Many Keys"))
    assert [(row["key_id"], row["state"], row["scopes"]) for row in rows] == [
        (first.key.key_id, "revoked", "licenses:check,releases:read"),
        (second.key.key_id, "expired", "licenses:check"),
    ]
    shown = licensing.ok("partner", "key", "list", "Many Keys", "--json")
    for issued in (first, second):
        assert key_parts(issued.token)[1] not in shown
    assert "already revoked" in str(licensing.fails("partner", "key", "revoke", first.key.key_id))


# --- disclosures --------------------------------------------------------------------------------


@dataclass
class Disclosed:
    first: PartnerApi
    second: PartnerApi
    key_a: str
    key_b: str
    license_a: uuid.UUID
    license_b: uuid.UUID
    request_ids: list[str]


@pytest.fixture
def disclosed(client: FlaskClient, session: Session, sealer: Sealer, product: Product) -> Disclosed:
    """Two partners asked about two licenses: first about A twice and B, second about B."""
    edition = factories.make_edition(session, product=product)
    license_a = factories.make_license(session, sealer, edition=edition)
    license_b = factories.make_license(session, sealer, edition=edition)
    first_partner = factories.make_partner(session, name="First", products=[product])
    first = PartnerApi(
        client, first_partner, factories.make_partner_key(session, sealer, partner=first_partner)
    )
    second_partner = factories.make_partner(session, name="Second", products=[product])
    second = PartnerApi(
        client, second_partner, factories.make_partner_key(session, sealer, partner=second_partner)
    )
    session.commit()
    request_ids = []
    for api, issued in ((first, license_a), (first, license_b), (second, license_b)):
        response = api.check(issued.key.display)
        assert response.status_code == 200
        request_ids.append(response.headers["X-Request-Id"])
    response = first.check(license_a.key.display, "1.0.0")
    assert response.status_code == 200
    request_ids.append(response.headers["X-Request-Id"])
    # The first answer was given long ago.
    session.execute(
        update(Disclosure)
        .where(Disclosure.request_id == request_ids[0])
        .values(disclosed_at=datetime.now(UTC) - timedelta(days=10))
    )
    session.commit()
    return Disclosed(
        first,
        second,
        license_a.key.display,
        license_b.key.display,
        license_a.license.id,
        license_b.license.id,
        request_ids,
    )


def test_disclosures_newest_first(
    licensing: Licensing, session: Session, disclosed: Disclosed
) -> None:
    listed = licensing.json("partner", "disclosures")

    ids = disclosed.request_ids
    assert [row["request_id"] for row in listed] == [ids[3], ids[2], ids[1], ids[0]]
    assert disclosure_count(session) == 4
    row = next(row for row in listed if row["request_id"] == ids[3])
    assert row == {
        "disclosed_at": row["disclosed_at"],
        "partner": "First",
        "partner_id": str(disclosed.first.partner.id),
        "license_id": str(disclosed.license_a),
        "key_id": disclosed.first.issued.key.key_id,
        "purpose": "license_check",
        "fields": row["fields"],
        "request_id": ids[3],
    }
    assert "upgrade.eligible" in row["fields"]
    assert "license.valid" in row["fields"]
    rows = table(licensing.ok("partner", "disclosures"))
    assert {r["request_id"] for r in rows} == set(ids)
    assert set(rows[0]) == {"disclosed_at", "partner", "license_id", "purpose", "request_id"}
    # People read partners by name; the id stays in --json.
    assert {r["request_id"]: r["partner"] for r in rows} == {
        ids[0]: "First",
        ids[1]: "First",
        ids[2]: "Second",
        ids[3]: "First",
    }


def test_disclosures_filtered(licensing: Licensing, disclosed: Disclosed) -> None:
    def request_ids(*options: str) -> set[str]:
        return {row["request_id"] for row in licensing.json("partner", "disclosures", *options)}

    ids = disclosed.request_ids
    assert request_ids("--partner", "First") == {ids[0], ids[1], ids[3]}
    assert request_ids("--partner", str(disclosed.second.partner.id)) == {ids[2]}
    assert request_ids("--license", disclosed.key_a) == {ids[0], ids[3]}
    assert request_ids("--license", str(disclosed.license_b)) == {ids[1], ids[2]}
    since = (datetime.now(UTC) - timedelta(days=5)).date().isoformat()
    assert request_ids("--since", since) == {ids[1], ids[2], ids[3]}
    assert request_ids("--partner", "First", "--license", disclosed.key_b) == {ids[1]}
    assert request_ids("--partner", "First", "--since", since, "--limit", "1") == {ids[3]}
    assert len(request_ids("--limit", "2")) == 2
    assert licensing.ok(
        "partner", "disclosures", "--partner", "Second", "--since", "2999-01-01"
    ) == ("(none)\n")


# --- bad input through the installed command ----------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    command: str
    message: str
    exit_code: int = 1


ERROR_CASES = (
    Case("unknown partner", "partner show Nobody", "no partner 'Nobody'"),
    Case("unknown partner of a key", "partner key create Nobody", "no partner 'Nobody'"),
    Case("unknown partner to suspend", "partner suspend Nobody", "no partner 'Nobody'"),
    Case(
        "unknown partner of disclosures",
        "partner disclosures --partner Nobody",
        "no partner 'Nobody'",
    ),
    Case(
        "bad CIDR",
        "partner add Other --kind reseller --allow 10.0.0.300/8",
        "'10.0.0.300/8' is not an IP network (CIDR)",
    ),
    Case(
        "bad IPv6 CIDR",
        "partner add Other --kind reseller --allow 2001:db8::/129",
        "'2001:db8::/129' is not an IP network (CIDR)",
    ),
    Case(
        "bad rate limit",
        "partner add Other --kind reseller --rate-limit lots",
        "'lots' is not a rate limit such as '120/minute'",
    ),
    Case(
        "unknown scope",
        "partner key create Acme --scope licenses:write",
        "Invalid value for '--scope': 'licenses:write' is not one of",
        exit_code=2,
    ),
    Case(
        "unknown kind",
        "partner add Other --kind wholesaler",
        "Invalid value for '--kind': 'wholesaler' is not one of",
        exit_code=2,
    ),
    Case("duplicate name", "partner add Acme --kind reseller", "a partner named 'Acme' already"),
    Case(
        "unknown product",
        "partner products add Acme nope",
        "no product with code 'nope'",
    ),
    Case(
        "already registered",
        "partner products add Acme demo-mailserver",
        "'Acme' is already registered for 'demo-mailserver'",
    ),
    Case("unknown key id", "partner key revoke NoSuchKey123", "no partner key 'NoSuchKey123'"),
    Case(
        "expiry in the past",
        "partner key create Acme --expires 2020-01-01",
        "the key's expiry must be in the future",
    ),
    Case("already active", "partner reinstate Acme", "partner 'Acme' is already active"),
    Case(
        "bad since",
        "partner disclosures --since yesterday",
        "Invalid value for '--since': 'yesterday' is not a date",
        exit_code=2,
    ),
    Case(
        "unknown product on add",
        "partner add Halfway --kind reseller --product nope",
        "no product with code 'nope'",
    ),
)


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance seeded by ``licensing demo``, with the partner Acme."""
    folder = tmp_path_factory.mktemp("partner-instance")
    for args in (
        ("demo", "--json"),
        ("partner", "add", "Acme", "--kind", "reseller", "--product", "demo-mailserver"),
    ):
        completed = run(folder, *args)
        assert completed.returncode == 0, describe(completed)
    return folder


@pytest.fixture(scope="module")
def runs(instance: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=max(os.cpu_count() or 1, 2)) as pool:
        futures = {
            case.name: pool.submit(run, instance, *shlex.split(case.command))
            for case in ERROR_CASES
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case", ERROR_CASES, ids=[case.name for case in ERROR_CASES])
def test_bad_input_is_one_error_line(
    case: Case, runs: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    completed = runs[case.name]

    assert completed.returncode == case.exit_code, describe(completed)
    (line,) = completed.stderr.splitlines() or [""]
    assert line.startswith("error: "), describe(completed)
    assert case.message in line, describe(completed)
    assert completed.stdout == "", describe(completed)
    assert "Traceback" not in completed.stderr


def test_a_failed_add_leaves_no_partner_behind(
    instance: Path, runs: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    assert runs["unknown product on add"].returncode == 1
    listed = run(instance, "partner", "list", "--json")

    assert listed.returncode == 0, describe(listed)
    assert [partner["name"] for partner in json.loads(listed.stdout)] == ["Acme"]


def test_the_console_script_prints_a_new_key_once(instance: Path) -> None:
    created = run(instance, "partner", "key", "create", "Acme", "--json")
    assert created.returncode == 0, describe(created)
    secret = key_parts(json.loads(created.stdout)["api_key"])[1]

    listed = run(instance, "partner", "key", "list", "Acme", "--json")
    shown = run(instance, "partner", "show", "Acme")

    assert secret not in listed.stdout + shown.stdout
    for database_file in instance.glob("licensing.sqlite3*"):  # with any journal beside it
        assert secret.encode() not in database_file.read_bytes()
