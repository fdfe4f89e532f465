"""A real server for tests that speak HTTP: ``licensing demo`` then ``licensing serve``.

The server runs in a subprocess (gunicorn replaces the ``licensing serve`` process, so
its pid is the gunicorn master's) and is always stopped by that pid. Its output goes to
a log file that a failure to start quotes. :func:`call` is the third-party client:
``requests`` on the wire, :mod:`tests.signing` for signatures, every answer verified.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.signing import (
    Credentials,
    SignedRequest,
    content_digest,
    json_body,
    sign,
    verify_response,
)

START_TIMEOUT = 30.0
ISSUER = "licensing.test"


def licensing_command() -> str:
    """The ``licensing`` entry point of this environment."""
    beside_python = Path(sys.executable).parent / "licensing"
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("licensing")
    if found is None:
        raise RuntimeError("the licensing command is not installed in this environment")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    instance_path: Path
    database_url: str
    env: dict[str, str]
    log: Path
    # Demo licenses issued before the server started (1 seat + migration allowance 1).
    licenses: list[dict[str, Any]] = field(default_factory=list)

    def cli(self, *args: str) -> str:
        """Run a ``licensing`` command against the server's database; its stdout."""
        done = subprocess.run(
            [licensing_command(), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"licensing {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def demo_license(self) -> dict[str, Any]:
        """A fresh license of the demo edition (1 seat, migration allowance 1)."""
        record: dict[str, Any] = json.loads(self.cli("demo", "--json"))
        return record

    def jwks(self) -> dict[str, Any]:
        response = requests.get(self.base_url + "/.well-known/jwks.json", timeout=10)
        response.raise_for_status()
        jwks: dict[str, Any] = response.json()
        return jwks


def _environment(
    instance_path: Path, database_url: str, extra: Mapping[str, str]
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
    env.update(
        LICENSING_INSTANCE_PATH=str(instance_path),
        LICENSING_DATABASE_URL=database_url,
        LICENSING_LOG_JSON="false",
        LICENSING_LOG_LEVEL="WARNING",
        LICENSING_ISSUER=ISSUER,
    )
    env.update(extra)
    return env


def _wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if requests.get(base_url + "/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not start within {START_TIMEOUT} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # gunicorn: quick shutdown of master and workers
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def live_server(
    instance_path: Path,
    *,
    database_url: str | None = None,
    workers: int = 2,
    threads: int = 1,
    licenses: int = 1,
    env: Mapping[str, str] | None = None,
) -> Iterator[LiveServer]:
    """Migrate (server databases), seed the demo data, serve; stop whatever happens.

    ``licenses`` demo licenses are issued: the first seeds the catalog and the signing
    key, the others are issued while the server boots.
    """
    instance_path.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{instance_path / 'licensing.sqlite3'}"
    port = free_port()
    server = LiveServer(
        base_url=f"http://127.0.0.1:{port}",
        instance_path=instance_path,
        database_url=url,
        env=_environment(instance_path, url, env or {}),
        log=instance_path / "server.log",
    )
    if not url.startswith("sqlite"):
        server.cli("db", "upgrade")  # serve only migrates the embedded database itself
    server.licenses.append(server.demo_license())
    command = [licensing_command(), "serve", "--port", str(port), "--workers", str(workers)]
    if threads > 1:
        command += ["--threads", str(threads)]
    demos: list[subprocess.Popen[str]] = []
    with server.log.open("wb") as log:
        process = subprocess.Popen(command, env=server.env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(licenses - 1):
            demos.append(
                subprocess.Popen(
                    [licensing_command(), "demo", "--json"],
                    env=server.env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for demo in demos:
            out, err = demo.communicate(timeout=60)
            if demo.returncode != 0:
                raise RuntimeError(f"licensing demo failed:\n{err}")
            server.licenses.append(json.loads(out))
        _wait_until_healthy(process, server.base_url, server.log)
        yield server
    finally:
        for demo in demos:
            if demo.poll() is None:
                demo.kill()
                demo.wait(timeout=5)
        _stop(process)


@dataclass(frozen=True, slots=True)
class LiveAnswer:
    status: int
    body: dict[str, Any]
    request: SignedRequest

    @property
    def code(self) -> Any:
        return self.body.get("code")


def call(
    server: LiveServer,
    credentials: Credentials,
    method: str,
    path: str,
    payload: Mapping[str, Any] | None = None,
    *,
    jwks: Mapping[str, Any],
    send_path: str | None = None,
    send_body: bytes | None = None,
    **options: Any,
) -> LiveAnswer:
    """Sign ``method path payload`` and send it, or tamper with it in transit.

    ``send_path`` sends the signed request to another path; ``send_body`` sends other
    bytes, with a ``Content-Digest`` recomputed for them (an attacker's best effort).
    The answer is accepted only if it verifies as §3 demands (see ``verify_response``).
    """
    body = json_body(payload) if payload is not None else b""
    signed = sign(credentials, method, path, body, base_url=server.base_url, **options)
    headers = dict(signed.headers)
    if send_body is not None:
        headers["Content-Digest"] = content_digest(send_body)
    response = requests.request(
        method,
        server.base_url + (send_path or path),
        data=body if send_body is None else send_body,
        headers=headers,
        timeout=30,
    )
    verified = verify_response(
        response.status_code,
        list(response.headers.items()),
        response.content,
        jwks,
        nonce=signed.nonce,
    )
    return LiveAnswer(response.status_code, verified.body, signed)


def send_signed(server: LiveServer, signed: SignedRequest, jwks: Mapping[str, Any]) -> LiveAnswer:
    """Send an already signed request as it is (for replays)."""
    response = requests.request(
        signed.method,
        server.base_url + signed.path,
        data=signed.body,
        headers=signed.headers,
        timeout=30,
    )
    verified = verify_response(
        response.status_code,
        list(response.headers.items()),
        response.content,
        jwks,
        nonce=signed.nonce,
    )
    return LiveAnswer(response.status_code, verified.body, signed)
