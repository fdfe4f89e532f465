"""How many workers and threads ``licensing serve`` starts when not told."""

from __future__ import annotations

import pytest

from licensing.cli import serve


def test_the_embedded_database_gets_two_workers_of_one_thread() -> None:
    assert serve.default_workers(embedded_database=True) == 2
    assert serve.default_threads(embedded_database=True) == 1


@pytest.mark.parametrize(("cores", "workers"), [(1, 2), (2, 2), (4, 4), (64, 8)])
def test_a_server_database_gets_one_worker_per_core_from_two_to_eight(
    monkeypatch: pytest.MonkeyPatch, cores: int, workers: int
) -> None:
    monkeypatch.setattr(serve.os, "cpu_count", lambda: cores)
    assert serve.default_workers(embedded_database=False) == workers


def test_a_server_database_gets_threads_that_share_commits() -> None:
    assert serve.default_threads(embedded_database=False) == 4


@pytest.mark.parametrize(("threads", "connections"), [(1, 2), (4, 8), (8, 16)])
def test_a_worker_holds_a_connection_per_thread_and_as_many_idle_ones(
    threads: int, connections: int
) -> None:
    assert serve.worker_connections(threads) == connections


@pytest.mark.parametrize(("threads", "seconds"), [(1, 0), (2, 2), (4, 2)])
def test_one_thread_workers_close_each_connection_after_its_answer(
    threads: int, seconds: int
) -> None:
    assert serve.keep_alive(threads) == seconds
