"""``licensing audit verify``: exit 0 on an intact chain, 1 with the first broken event."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

from licensing.models import AuditEvent
from tests.factories import make_customer, make_edition
from tests.functional.cli.invoke import Licensing, fields


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
