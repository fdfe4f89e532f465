"""``licensing audit verify``: exit 0 on an intact chain, 1 with the first broken event."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

from licensing.crypto.sealing import Sealer
from licensing.models import AuditEvent
from licensing.services import server_keys
from tests.factories import make_customer, make_edition
from tests.functional.cli.invoke import Licensing, fields, table


@pytest.fixture
def events(session: Session) -> int:
    """A few audited changes: product, edition, customer (three events)."""
    make_edition(session)
    make_customer(session)
    return 3


def test_an_empty_log_is_intact(licensing: Licensing) -> None:
    assert licensing.json("audit", "verify") == {
        "intact": True,
        "events": 0,
        "first_broken_seq": None,
        "problem": None,
    }


def test_an_intact_chain_exits_0(licensing: Licensing, events: int) -> None:
    licensing.ok("product", "add", "from-the-cli", "--name", "From the CLI")

    assert licensing.json("audit", "verify") == {
        "intact": True,
        "events": events + 1,
        "first_broken_seq": None,
        "problem": None,
    }
    assert fields(licensing.ok("audit", "verify")) == {
        "intact": "True",
        "events": str(events + 1),
        "first_broken_seq": "-",
        "problem": "-",
    }


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (
            update(AuditEvent).where(AuditEvent.seq == 2).values(actor="someone-else"),
            "event 2 was altered after it was written",
        ),
        (delete(AuditEvent).where(AuditEvent.seq == 2), "event 2 is missing"),
    ],
    ids=["altered", "removed"],
)
def test_a_broken_chain_exits_1_naming_the_first_broken_event(
    licensing: Licensing, session: Session, events: int, tamper: UpdateBase, problem: str
) -> None:
    session.execute(tamper.execution_options(synchronize_session=False))
    session.expire_all()

    result = licensing.run("audit", "verify", "--json")

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["intact"] is False
    assert report["first_broken_seq"] == 2
    assert report["problem"] == problem

    text = licensing.run("audit", "verify")
    assert text.exit_code == 1
    assert fields(text.stdout)["first_broken_seq"] == "2"


@pytest.fixture
def signing_key(session: Session, sealer: Sealer, actor: str) -> None:
    """The server's signing key (its creation is the chain's first event)."""
    server_keys.ensure_active_key(session, sealer, actor=actor)


def test_checkpoint_writes_an_owner_only_file_that_verify_accepts(
    licensing: Licensing, session: Session, signing_key: None, events: int, tmp_path: Path
) -> None:
    file = tmp_path / "head.jwt"
    written = licensing.json("audit", "checkpoint", "--output", str(file))

    assert (written["seq"], written["events"], written["file"]) == (4, 4, str(file))
    assert "checkpoint" not in written  # the token is in the file, not on the screen
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    licensing.ok("product", "add", "later", "--name", "Later")
    licensing.ok("keys", "rotate")  # the checkpoint's key is retired, and still trusted
    assert licensing.json("audit", "verify", "--checkpoint", str(file)) == {
        "intact": True,
        "events": 6,
        "first_broken_seq": None,
        "problem": None,
        "checkpoint_seq": 4,
    }


def test_verify_fails_when_events_the_checkpoint_covers_are_cut(
    licensing: Licensing, session: Session, signing_key: None, events: int, tmp_path: Path
) -> None:
    file = tmp_path / "head.jwt"
    file.write_text(licensing.ok("audit", "checkpoint"))  # printed, for `> FILE`
    session.execute(delete(AuditEvent).where(AuditEvent.seq >= 3))
    session.expire_all()
    assert licensing.run("audit", "verify").exit_code == 0  # without it, nothing is seen

    result = licensing.run("audit", "verify", "--checkpoint", str(file), "--json")

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert (report["first_broken_seq"], report["checkpoint_seq"]) == (3, 4)
    assert report["problem"] == "events 3 to 4 are missing: the checkpoint covers 4"


def test_verify_refuses_a_forged_checkpoint_in_one_line(
    licensing: Licensing, signing_key: None, events: int, tmp_path: Path
) -> None:
    file = tmp_path / "head.jwt"
    licensing.ok("audit", "checkpoint", "--output", str(file))
    head, payload, signature = file.read_text().strip().split(".")
    file.write_text(f"{head}.{payload}.{signature[:-4]}AAAA\n")

    result = licensing.run("audit", "verify", "--checkpoint", str(file))

    assert result.exit_code == 1
    # One line, and no report: nothing was checked against a head nobody signed.
    assert result.output.strip() == f"Error: {file}: checkpoint signature does not verify"


def test_list_shows_events_newest_first_filtered(
    licensing: Licensing, session: Session, events: int
) -> None:
    licensing.ok("product", "add", "from-the-cli", "--name", "From the CLI")
    everything = licensing.json("audit", "list")

    assert [e["seq"] for e in everything] == [4, 3, 2, 1]
    assert set(everything[0]) == {
        "seq",
        "occurred_at",
        "actor",
        "action",
        "subject_type",
        "subject_id",
        "data",
    }
    assert everything[0]["action"] == "product.added"
    mine = licensing.json("audit", "list", "--actor", everything[0]["actor"])
    assert [e["seq"] for e in mine] == [4]
    product = everything[0]["subject_id"]
    assert [e["seq"] for e in licensing.json("audit", "list", "--subject", product)] == [4]
    assert [
        e["seq"] for e in licensing.json("audit", "list", "--subject", f"product:{product}")
    ] == [4]
    assert licensing.json("audit", "list", "--subject", f"customer:{product}") == []
    # An id as another tool prints it (upper case) names the same subject.
    for spelled in (product.upper(), f"product:{product.upper()}"):
        assert [e["seq"] for e in licensing.json("audit", "list", "--subject", spelled)] == [4]
    assert [e["seq"] for e in licensing.json("audit", "list", "--limit", "2")] == [4, 3]
    assert [e["seq"] for e in licensing.json("audit", "list", "--since", "2999-01-01")] == []
    rows = table(licensing.ok("audit", "list", "--since", "2000-01-01T00:00:00Z"))
    assert [row["seq"] for row in rows] == ["4", "3", "2", "1"]
    assert rows[0]["action"] == "product.added"


def test_verify_can_trust_only_a_saved_jwk_set(
    licensing: Licensing, session: Session, signing_key: None, events: int, tmp_path: Path
) -> None:
    """Someone who can write the database could add a key; a saved JWK Set cannot be."""
    checkpoint, saved, other = tmp_path / "head.jwt", tmp_path / "jwks.json", tmp_path / "x.json"
    licensing.ok("audit", "checkpoint", "--output", str(checkpoint))
    saved.write_text(json.dumps(server_keys.jwks(session)))
    other.write_text(json.dumps({"keys": [dict(server_keys.jwks(session)["keys"][0], kid="k")]}))

    accepted = licensing.json(
        "audit", "verify", "--checkpoint", str(checkpoint), "--jwks", str(saved)
    )
    assert (accepted["intact"], accepted["checkpoint_seq"]) == (True, 4)
    refused = licensing.run(
        "audit", "verify", "--checkpoint", str(checkpoint), "--jwks", str(other)
    )
    assert refused.exit_code == 1
    assert refused.output.strip() == (
        f"Error: {checkpoint}: checkpoint signed by a key the given JWK Set never had"
    )
    no_set = licensing.run(
        "audit", "verify", "--checkpoint", str(checkpoint), "--jwks", str(checkpoint)
    )
    assert no_set.output.strip() == f"Error: {checkpoint} is not a JSON file"
