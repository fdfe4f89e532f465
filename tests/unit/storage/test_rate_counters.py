"""The database storage of rate-limit counters, as ``limits`` and Flask-Limiter use it.

On PostgreSQL it counts in the migrated test database's table (on connections of its
own, outside any test transaction); on SQLite in a counters file of its own, as the
embedded server does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import Engine, create_engine, event, select

from licensing.database import configure_engine, engine_options
from licensing.extensions import db
from licensing.models import RateLimitCounter
from licensing.storage import rate_counters
from licensing.storage.rate_counters import DatabaseCounters


@pytest.fixture
def engine(migrated_app: Flask, tmp_path: Path) -> Iterator[Engine]:
    with migrated_app.app_context():
        if db.engine.dialect.name != "sqlite":
            yield db.engine
            return
    url = f"sqlite:///{tmp_path / 'rate-limits.sqlite3'}"
    own = create_engine(url, **engine_options(url))
    configure_engine(own)
    yield own
    own.dispose()


@pytest.fixture
def counters(engine: Engine) -> DatabaseCounters:
    storage = storage_from_string(
        f"{rate_counters.SCHEME}://",
        engine=lambda: engine,
        create_table=engine.dialect.name == "sqlite",
    )
    assert isinstance(storage, DatabaseCounters)
    return storage


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement sent to the database while the test runs."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


def key() -> str:
    return f"LIMITER/test/{uuid.uuid4().hex}"


def test_hits_count_up_within_a_window_and_each_key_alone(counters: DatabaseCounters) -> None:
    first, second = key(), key()
    start = rate_counters.clock()

    assert [counters.incr(first, 60) for _ in range(3)] == [1, 2, 3]
    assert counters.incr(second, 60, amount=2) == 2
    counters.forget()

    assert (counters.get(first), counters.get(second)) == (3, 2)
    assert start + 59 < counters.get_expiry(first) <= rate_counters.clock() + 60
    assert counters.get(key()) == 0


def test_a_window_that_ended_counts_from_one_again(
    counters: DatabaseCounters, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = key()
    counters.incr(name, 60)
    counters.incr(name, 60)
    later = rate_counters.clock() + 61
    monkeypatch.setattr(rate_counters, "clock", lambda: later)
    counters.forget()

    assert counters.get(name) == 0
    assert counters.incr(name, 60) == 1
    assert counters.get_expiry(name) == pytest.approx(later + 60)


def test_a_hit_is_one_statement_and_its_figures_are_read_without_another(
    counters: DatabaseCounters, statements: list[str]
) -> None:
    counters.incr(key(), 60)  # creates the table (SQLite) and prunes: not counted below
    counters.forget()
    statements.clear()

    def sent() -> list[str]:  # SQLite's BEGIN IMMEDIATE is in-process, no round trip
        return [text for text in statements if not text.startswith("BEGIN")]

    limiter = FixedWindowRateLimiter(counters)
    limit, name = parse("5/minute"), key()
    assert limiter.hit(limit, name)
    assert limiter.hit(limit, name)
    stats = limiter.get_window_stats(limit, name)

    assert len(sent()) == 2 and all(s.startswith("INSERT") for s in sent()), sent()
    assert stats.remaining == 3
    counters.forget()  # the next request reads the shared count afresh
    assert limiter.get_window_stats(limit, name).remaining == 3
    assert len(sent()) == 4  # its count and its window's end


def test_finished_windows_are_pruned_now_and_then(
    counters: DatabaseCounters, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, fresh = key(), key()
    counters.incr(old, 1)
    later = rate_counters.clock() + rate_counters.PRUNE_INTERVAL + 2
    monkeypatch.setattr(rate_counters, "clock", lambda: later)

    counters.incr(fresh, 60)

    with engine.connect() as connection:
        names = set(connection.scalars(select(RateLimitCounter.name)))
    assert fresh in names and old not in names


def test_clear_reset_and_check(counters: DatabaseCounters) -> None:
    kept, cleared = key(), key()
    counters.incr(kept, 60)
    counters.incr(cleared, 60)

    counters.clear(cleared)
    counters.forget()
    assert (counters.get(kept), counters.get(cleared)) == (1, 0)
    assert counters.check() is True
    assert (counters.reset() or 0) >= 1
    assert counters.get(kept) == 0
