"""``licensing privacy request|search|export|rectify|restrict|lift-restriction``."""

from __future__ import annotations

import io
import json
import os
import stat
import uuid
import zipfile
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import Conflict, NotFound
from licensing.models import PrivacyRequest
from tests.factories import latest_event
from tests.functional.cli.invoke import Licensing, fields
from tests.unit.services.subject_seeding import Subject, seed_subject

VERIFIED = "reply from the licensed e-mail address"


@pytest.fixture
def ada(session: Session, sealer: Sealer) -> Subject:
    return seed_subject(session, sealer, name="Ada Cli", ip="198.51.100.7", server_name="mx.ada")


def _record(licensing: Licensing, kind: str, *extra: str) -> str:
    out = fields(
        licensing.ok("privacy", "request", "record", "--kind", kind, "--verified", VERIFIED, *extra)
    )
    return out["id"]


def test_record_prints_the_id_and_due_date_and_list_show_it(
    licensing: Licensing, session: Session, ada: Subject
) -> None:
    recorded = licensing.json(
        "privacy",
        "request",
        "record",
        "--kind",
        "access",
        "--customer",
        ada.customer.email,
        "--received",
        "2026-01-31",
        "--verified",
        VERIFIED,
    )
    request = session.get(PrivacyRequest, uuid.UUID(recorded["id"]))
    assert request is not None and request.customer_id == ada.customer.id
    assert recorded["due_at"].startswith("2026-02-28")

    listed = licensing.json("privacy", "request", "list", "--open")
    assert recorded["id"] in {r["id"] for r in listed}
    overdue = licensing.json("privacy", "request", "list", "--overdue")
    assert [r["id"] for r in overdue if r["id"] == recorded["id"]] == [recorded["id"]]
    shown = licensing.json("privacy", "request", "show", recorded["id"])
    assert (shown["kind"], shown["identity_verification"], shown["overdue"]) == (
        "access",
        VERIFIED,
        True,
    )


def test_bad_input_is_refused(licensing: Licensing) -> None:
    assert (
        licensing.run(
            "privacy", "request", "record", "--kind", "forget", "--verified", VERIFIED
        ).exit_code
        == 2
    )
    assert licensing.run("privacy", "request", "show", "not-an-id").exit_code == 2
    assert isinstance(licensing.fails("privacy", "request", "show", str(uuid.uuid4())), NotFound)
    assert isinstance(
        licensing.fails(
            "privacy",
            "request",
            "record",
            "--kind",
            "access",
            "--customer",
            "nobody@example.com",
            "--verified",
            VERIFIED,
        ),
        NotFound,
    )


def test_search_then_name_the_subject_then_export(
    licensing: Licensing, session: Session, ada: Subject, tmp_path: Path
) -> None:
    request_id = _record(licensing, "access")
    found = licensing.json("privacy", "search", ada.ip, "--request", request_id)
    assert found["readings"] == ["ip"]
    (subject,) = found["subjects"]
    assert subject["customer_id"] == str(ada.customer.id)
    assert subject["tables"] == {"lease_presentations": 1, "usage_observations": 2}
    assert ada.ip not in json.dumps(latest_event(session).data)
    refused = licensing.fails(
        "privacy", "export", "--request", request_id, "--out", str(tmp_path / "x.zip")
    )
    assert isinstance(refused, Conflict)

    licensing.ok("privacy", "request", "subject", request_id, "--customer", str(ada.customer.id))
    out = tmp_path / "ada.zip"
    done = licensing.json("privacy", "export", "--request", request_id, "--out", str(out))

    assert done["rows"]["customers"] == 1 and done["rows"]["usage_observations"] == 2
    with zipfile.ZipFile(io.BytesIO(out.read_bytes())) as archive:
        names = set(archive.namelist())
        assert {"customers.json", "customers.csv", "register.json", "README.txt"} <= names
        assert json.loads(archive.read("customers.json"))[0]["email"] == ada.customer.email
    assert licensing.json("privacy", "request", "show", request_id)["status"] == "completed"


def test_export_never_overwrites_a_file(licensing: Licensing, ada: Subject, tmp_path: Path) -> None:
    request_id = _record(licensing, "access", "--customer", str(ada.customer.id))
    out = tmp_path / "there.zip"
    out.write_bytes(b"keep me")
    result = licensing.run("privacy", "export", "--request", request_id, "--out", str(out))
    assert result.exit_code != 0 and "exists" in result.output
    assert out.read_bytes() == b"keep me"
    assert licensing.json("privacy", "request", "show", request_id)["status"] == "open"


def test_the_export_is_readable_by_its_owner_only(
    licensing: Licensing, ada: Subject, tmp_path: Path
) -> None:
    request_id = _record(licensing, "access", "--customer", str(ada.customer.id))
    out = tmp_path / "ada.zip"
    old = os.umask(0)  # the mode must not depend on the operator's umask
    try:
        licensing.ok("privacy", "export", "--request", request_id, "--out", str(out))
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert zipfile.is_zipfile(out)


def test_rectify_names_the_partners_to_notify(
    licensing: Licensing, session: Session, ada: Subject
) -> None:
    request_id = _record(licensing, "rectification", "--customer", ada.customer.email)
    done = licensing.json(
        "privacy",
        "rectify",
        "--request",
        request_id,
        "--name",
        "Ada Lovelace",
        "--server-name",
        f"{ada.activation.id}=mail.ada.example",
    )
    assert done["fields"] == ["name"] and done["server_names"] == 1
    assert [p["partner"] for p in done["notify"]] == [ada.partner.name]
    session.expire_all()
    assert ada.customer.name == "Ada Lovelace"
    assert ada.activation.server_name == "mail.ada.example"
    assert (
        licensing.run(
            "privacy", "rectify", "--request", request_id, "--server-name", "no-equals"
        ).exit_code
        == 2
    )


def test_restrict_and_lift(licensing: Licensing, session: Session, ada: Subject) -> None:
    restrict = _record(licensing, "objection", "--customer", ada.customer.email)
    assert "restricted on 1 licenses" in licensing.ok("privacy", "restrict", "--request", restrict)
    session.expire_all()
    assert ada.license.processing_restricted
    lift = _record(licensing, "lift_restriction", "--customer", ada.customer.email)
    assert isinstance(licensing.fails("privacy", "restrict", "--request", lift), Conflict)
    licensing.ok("privacy", "lift-restriction", "--request", lift)
    session.expire_all()
    assert not ada.license.processing_restricted


def test_refuse(licensing: Licensing) -> None:
    request_id = _record(licensing, "erasure")
    licensing.ok("privacy", "request", "refuse", request_id, "--reason", "identity not confirmed")
    shown = licensing.json("privacy", "request", "show", request_id)
    assert (shown["status"], shown["outcome"]) == ("refused", "identity not confirmed")
    assert isinstance(
        licensing.fails("privacy", "request", "refuse", request_id, "--reason", "again, twice"),
        Conflict,
    )
