"""The batch statement as the driver receives it."""

from __future__ import annotations

from psycopg import _queries

from licensing.storage.check_in_batch_sql import CHECK_IN_BATCH_POSTGRESQL
from licensing.storage.check_in_batches import BATCH_STATEMENT


def test_the_batch_statement_fits_the_drivers_conversion_cache() -> None:
    # Beyond this length psycopg parses the placeholders again on every execution.
    assert len(BATCH_STATEMENT) <= _queries.MAX_CACHED_STATEMENT_LENGTH


def test_the_sent_statement_is_the_written_one_without_indentation() -> None:
    written = CHECK_IN_BATCH_POSTGRESQL
    assert BATCH_STATEMENT.decode().split() == written.split()
    assert BATCH_STATEMENT.count(b"\n") == len([s for s in written.splitlines() if s.strip()]) - 1
