"""``licensing serve`` ends its start-up output with where to go next, and those addresses work."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.live import live_server


def test_start_up_ends_with_the_docs_the_health_check_and_the_client(tmp_path: Path) -> None:
    with live_server(tmp_path) as server:
        deadline = time.monotonic() + 20
        while "licensing: ready on" not in (output := server.log.read_text(errors="replace")):
            assert time.monotonic() < deadline, output
            time.sleep(0.1)
        time.sleep(1.0)  # anything else the start-up prints would be there by now
        output = server.log.read_text(errors="replace")
        docs = requests.get(server.base_url + "/docs/", timeout=10)
        health = requests.get(server.base_url + "/healthz", timeout=10)

    assert output.splitlines()[-4:] == [
        f"licensing: ready on {server.base_url}",
        f"  API documentation  {server.base_url}/docs/",
        f"  health check       {server.base_url}/healthz",
        "  the client         pip install ./clients/python, then: licensing-client --help",
    ], output
    assert output.count("licensing: ready on") == 1, output  # once, not once per worker
    assert (docs.status_code, docs.headers["Content-Type"].split(";")[0]) == (200, "text/html")
    assert health.status_code == 200
