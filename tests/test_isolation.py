"""Each test runs in a transaction that is rolled back: nothing leaks into the next test.

The two tests run in file order (pytest's default): the first writes, the second looks.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.models import AuditEvent, Product
from licensing.services import catalog

LEAK_CODE = "leak-probe"


def test_1_writes_and_commits_a_product(session: Session, actor: str) -> None:
    catalog.add_product(session, code=LEAK_CODE, name="Leak probe", actor=actor)
    session.commit()  # as a request would: only releases the test's savepoint

    assert session.scalar(select(Product).where(Product.code == LEAK_CODE)) is not None


def test_2_sees_nothing_of_the_previous_test(session: Session) -> None:
    assert session.scalar(select(Product).where(Product.code == LEAK_CODE)) is None
    assert session.scalar(select(AuditEvent)) is None
