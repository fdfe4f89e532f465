"""Running the real licensing server in a subprocess for the live tests."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[3]
FALLBACK_COMMANDS = (
    REPO_ROOT / ".venv" / "bin" / "licensing",
    Path("/work/main/.venv/bin/licensing"),
)


def server_command() -> list[str] | None:
    """``LICENSING_SERVER_COMMAND``, else ``licensing`` on PATH, else the repo's venv."""
    configured = os.environ.get("LICENSING_SERVER_COMMAND")
    if configured:
        return shlex.split(configured)
    found = shutil.which("licensing")
    if found:
        return [found]
    for candidate in FALLBACK_COMMANDS:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    return None


def require_server_command() -> list[str]:
    command = server_command()
    if command is not None:
        return command
    reason = (
        "no licensing server command: set LICENSING_SERVER_COMMAND, put `licensing` on PATH "
        f"or install the server into {REPO_ROOT / '.venv'}"
    )
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI is set: live tests must run)")
    pytest.skip(reason)


def client_command() -> list[str]:
    """The installed ``licensing-client`` next to this Python, else ``python -m``."""
    script = Path(sys.executable).with_name("licensing-client")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "licensing_client.cli"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    """One server: its instance folder, its process, its address."""

    command: list[str]
    instance: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
        env.update(
            LICENSING_INSTANCE_PATH=str(self.instance),
            LICENSING_LOG_JSON="false",
            LICENSING_CACHE_TTL="0",  # a revocation shows at once
        )
        return env

    def cli(self, *args: str) -> str:
        """Run a server CLI command against this instance; its stdout."""
        done = subprocess.run(  # noqa: S603 - our own server's CLI
            [*self.command, *args],
            env=self.env,
            cwd=self.instance,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def demo_license(self) -> dict[str, Any]:
        """A fresh demo license (``licensing demo --json``)."""
        record: dict[str, Any] = json.loads(self.cli("demo", "--json"))
        return record

    def add_partner(
        self,
        name: str,
        *options: str,
        kind: str = "reseller",
        products: Sequence[str] = ("demo-mailserver",),
    ) -> dict[str, Any]:
        """``licensing partner add NAME --kind KIND --product ...`` (after ``demo``)."""
        registered = [arg for code in products for arg in ("--product", code)]
        record: dict[str, Any] = json.loads(
            self.cli("partner", "add", name, "--kind", kind, *registered, *options, "--json")
        )
        return record

    def partner_key(self, partner: str, *options: str) -> dict[str, Any]:
        """``licensing partner key create PARTNER --json``: ``key_id``, ``api_key``, …"""
        record: dict[str, Any] = json.loads(
            self.cli("partner", "key", "create", partner, *options, "--json")
        )
        return record

    def revoke_partner_key(self, key_id: str) -> None:
        self.cli("partner", "key", "revoke", key_id)

    def start(self) -> None:
        self.instance.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        log = (self.instance / "serve.log").open("ab")
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own server
                [*self.command, "serve", "--port", str(self.port), "--workers", "2"],
                env=self.env,
                cwd=self.instance,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        tail = (self.instance / "serve.log").read_text(errors="replace")[-3000:]
        raise AssertionError(f"the server did not come up on {self.url}:\n{tail}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        else:
            process.wait()

    def jwks(self) -> dict[str, Any]:
        document: dict[str, Any] = requests.get(
            self.url + "/.well-known/jwks.json", timeout=5
        ).json()
        return document
