"""How many workers ``licensing serve`` starts when not told."""

from __future__ import annotations

import pytest

from licensing.cli import serve


def test_the_embedded_database_gets_two_workers() -> None:
    assert serve.default_workers(embedded_database=True) == 2


@pytest.mark.parametrize(("cores", "workers"), [(1, 3), (2, 5), (4, 9), (64, 9)])
def test_a_server_database_gets_two_per_core_plus_one_at_most_nine(
    monkeypatch: pytest.MonkeyPatch, cores: int, workers: int
) -> None:
    monkeypatch.setattr(serve.os, "cpu_count", lambda: cores)
    assert serve.default_workers(embedded_database=False) == workers
