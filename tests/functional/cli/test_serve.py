"""``licensing serve`` hands its shape to gunicorn (which it replaces itself with)."""

from __future__ import annotations

import pytest

from licensing.cli import serve
from tests.functional.cli.invoke import Licensing


def test_serve_passes_workers_threads_and_connection_cap_to_gunicorn(
    licensing: Licensing, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[list[str]] = []

    def execve(_path: str, argv: list[str], _env: dict[str, str]) -> None:
        started.append(argv)

    monkeypatch.setattr(serve.os, "execve", execve)
    licensing.ok("serve", "--workers", "3", "--threads", "5", "--port", "8123")

    [argv] = started
    options = dict(zip(argv[3:-1:2], argv[4:-1:2], strict=True))
    assert options["--workers"] == "3"
    assert options["--threads"] == "5"
    assert options["--worker-connections"] == "10"
    assert options["--bind"] == "127.0.0.1:8123"
    assert options["--worker-class"] == "licensing.gunicorn_worker.BufferingWorker"
    assert options["--keep-alive"] == "2"
    assert argv[-1] == "licensing.wsgi:app"
