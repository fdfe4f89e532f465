"""``licensing serve`` ends its start-up output with where to go next, and those addresses work."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.live import free_port, live_server

LISTENING = "licensing: listening on"


def test_start_up_ends_with_the_docs_the_health_check_and_the_client(tmp_path: Path) -> None:
    with live_server(tmp_path) as server:
        deadline = time.monotonic() + 20
        while LISTENING not in (output := server.log.read_text(errors="replace")):
            assert time.monotonic() < deadline, output
            time.sleep(0.1)
        time.sleep(1.0)  # anything else the start-up prints would be there by now
        output = server.log.read_text(errors="replace")
        docs = requests.get(server.base_url + "/docs/", timeout=10)
        health = requests.get(server.base_url + "/healthz", timeout=10)

    assert output.splitlines()[-4:] == [
        f"{LISTENING} {server.base_url} (readiness: GET {server.base_url}/readyz)",
        f"  API documentation  {server.base_url}/docs/",
        f"  health check       {server.base_url}/healthz",
        "  the client         pip install ./clients/python, then: licensing-client --help",
    ], output
    assert output.count(LISTENING) == 1, output  # once, not once per worker
    assert (docs.status_code, docs.headers["Content-Type"].split(";")[0]) == (200, "text/html")
    assert health.status_code == 200


def test_start_up_does_not_claim_ready_when_readiness_says_otherwise(tmp_path: Path) -> None:
    redis_down = {"LICENSING_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}  # nothing there
    with live_server(tmp_path, env=redis_down) as server:
        deadline = time.monotonic() + 20
        while LISTENING not in (output := server.log.read_text(errors="replace")):
            assert time.monotonic() < deadline, output
            time.sleep(0.1)
        ready = requests.get(server.base_url + "/readyz", timeout=10)

    assert ready.status_code == 503, ready.text
    assert "ready on" not in output, output
    assert f"readiness: GET {server.base_url}/readyz" in output, output
