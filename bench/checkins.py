"""Load benchmark: signed check-ins against gunicorn, compared with GET /healthz.

Run from the checkout (see bench/README.md)::

    .venv/bin/python bench/checkins.py --backend postgresql --duration 10 --connections 16

It builds a throw-away server (fresh instance folder; for PostgreSQL a fresh database
``bench_<random>``), issues a demo license, starts ``licensing serve``, activates two
instances, then in one run drives with wrk:

1. a warm-up (healthz, then a few thousand check-ins) that also estimates the rate;
2. ``GET /healthz`` for ``--duration`` seconds;
3. signed check-ins for ``--duration`` seconds, every one pre-signed (RFC 9421, through
   ``http-message-signatures``) with a unique nonce just before this phase.

Afterwards it stops the server and reads the database directly: the check-ins that were
acknowledged (``200``) must all be counted in ``usage_observations``. It prints figures;
it asserts nothing about time. Exit status: 0 when the run is valid (whatever the
figures), 1 when an acknowledged check-in is missing from the database, the pre-signed
requests ran out or the server failed, 2 when wrk is not installed.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import requests
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)

from licensing.crypto import license_keys

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LUA_SCRIPT = BENCH / "replay.lua"
PRODUCT, VERSION = "demo-mailserver", "2.1.0"
CALL_HOME_TAG, RESPONSE_TAG = "licensing/v1/call-home", "licensing/v1/response"
CHECK_IN_PATH = "/v1/instance/check-ins"
MIN_PRESIGNED = 20_000
WARMUP_SECONDS, WARMUP_REQUESTS = 2, 5_000
PG_DSN = "host=127.0.0.1 port=5432 user=postgres"
TARGET_RATIO, TARGET_P99_MS = 0.40, 25.0
NOISY_CORES = 0.3  # other processes' load above which a phase is flagged as disturbed


class BenchError(Exception):
    """The run could not be carried out (not a slow result: those are only printed)."""


# --------------------------------------------------------------------------- arguments


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), required=True)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured phase")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument(
        "--wrk-threads", type=int, default=2, help="wrk threads (default 2: one per core here)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="gunicorn workers (default: the serve default)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads per worker (>1: gthread workers; default: the serve default)",
    )
    parser.add_argument(
        "--licenses",
        type=int,
        default=1,
        help="demo licenses to spread the load over (2 activations each; default 1)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        help="pre-signed check-ins for the measured phase (default: from the warm-up rate)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the instance folder and the database"
    )
    parser.add_argument("--verbose", action="store_true", help="print wrk's own output too")
    parser.add_argument(
        "--lease-jti",
        choices=("none", "stale"),
        default="none",
        help="what each check-in presents as lease_jti: nothing (an old client), or a "
        "superseded lease (a clone: one lease_presentations row per check-in, the worst "
        "case; default none)",
    )
    args = parser.parse_args(argv)
    if args.connections < args.wrk_threads:
        parser.error("--connections must be at least --wrk-threads")
    if args.duration < 1 or args.licenses < 1:
        parser.error("--duration and --licenses must be positive")
    return args


def serve_defaults(backend: str) -> tuple[int, int]:
    """Workers and threads ``licensing serve`` picks when not told (for the report)."""
    from licensing.cli import serve

    embedded = backend == "sqlite"
    return (
        serve.default_workers(embedded_database=embedded),
        serve.default_threads(embedded_database=embedded),
    )


# --------------------------------------------------------------------------- the server


@dataclass
class Credentials:
    key_id: str
    secret: bytes
    display: str


@dataclass
class Instance:
    credentials: Credentials
    fingerprint: str
    server_name: str
    activation_id: uuid.UUID | None = None


@dataclass
class Backend:
    name: str
    instance_path: Path
    database: str | None = None  # PostgreSQL database name

    @property
    def url(self) -> str | None:
        if self.database is None:
            return None  # the server's default: <instance>/licensing.sqlite3
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.database}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
        env.update(
            LICENSING_INSTANCE_PATH=str(self.instance_path),
            LICENSING_LOG_LEVEL="WARNING",
            LICENSING_CACHE_TTL="5",
        )
        if self.url:
            env["LICENSING_DATABASE_URL"] = self.url
        return env

    def observations(self, activation_ids: Iterable[uuid.UUID]) -> int:
        """Sum of ``usage_observations.count`` for these activations, read directly."""
        ids = list(activation_ids)
        if self.database is None:
            import sqlite3

            marks = ",".join("?" * len(ids))
            path = self.instance_path / "licensing.sqlite3"
            with closing(sqlite3.connect(path)) as connection:
                row = connection.execute(
                    "SELECT coalesce(sum(count), 0) FROM usage_observations"
                    f" WHERE activation_id IN ({marks})",
                    [i.hex for i in ids],
                ).fetchone()
            return int(row[0])
        import psycopg

        with psycopg.connect(f"{PG_DSN} dbname={self.database}") as connection:
            row = connection.execute(
                "SELECT coalesce(sum(count), 0) FROM usage_observations"
                " WHERE activation_id = ANY(%s)",
                [ids],
            ).fetchone()
        assert row is not None
        return int(row[0])

    def describe(self) -> str:
        if self.database is None:
            import sqlite3

            return f"sqlite (SQLite {sqlite3.sqlite_version}, WAL, file in the instance folder)"
        import psycopg

        with psycopg.connect(f"{PG_DSN} dbname={self.database}") as connection:
            version = connection.execute("SHOW server_version").fetchone()
            sync = connection.execute("SHOW synchronous_commit").fetchone()
        assert version is not None and sync is not None
        return (
            f"postgresql (PostgreSQL {version[0].split()[0]}, synchronous_commit={sync[0]},"
            f" database {self.database})"
        )


@contextmanager
def backend(name: str, keep: bool) -> Iterator[Backend]:
    instance_path = Path(tempfile.mkdtemp(prefix=f"licensing-bench-{name}-"))
    database = f"bench_{secrets.token_hex(4)}" if name == "postgresql" else None
    if database:
        import psycopg

        with psycopg.connect(f"{PG_DSN} dbname=postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{database}"')
    try:
        yield Backend(name=name, instance_path=instance_path, database=database)
    finally:
        if keep:
            where = f"instance folder {instance_path}"
            if database:
                where += f", database {database}"
            print(f"kept: {where}", file=sys.stderr)
        else:
            shutil.rmtree(instance_path, ignore_errors=True)
            if database:
                import psycopg

                with psycopg.connect(f"{PG_DSN} dbname=postgres", autocommit=True) as c:
                    c.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def licensing_command(be: Backend, *argv: str) -> str:
    command = [str(Path(sys.executable).with_name("licensing")), *argv]
    result = subprocess.run(
        command, env=be.environment(), cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(be: Backend, port: int, workers: int | None, threads: int | None) -> Iterator[Server]:
    argv = [str(Path(sys.executable).with_name("licensing")), "serve", "--port", str(port)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if threads is not None:
        argv += ["--threads", str(threads)]
    log_path = be.instance_path / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(  # `licensing serve` execs gunicorn: same pid
            argv, env=be.environment(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    running = Server(process=process, base=f"http://127.0.0.1:{port}", log_path=log_path)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log_path: Path

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"the server exited at start-up:\n{self.log_tail()}")
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise BenchError(f"the server did not answer /healthz in {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Graceful stop (SIGTERM): gunicorn finishes the requests it is serving."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def pids(self) -> list[int]:
        """The gunicorn master and its workers."""
        return [self.process.pid, *children(self.process.pid)]


# --------------------------------------------------------------------------- signing


class _Secret(HTTPSignatureKeyResolver):
    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def resolve_private_key(self, key_id: str) -> bytes:
        return self.secret


class _Jwks(HTTPSignatureKeyResolver):
    def __init__(self, jwks: dict[str, Any]) -> None:
        self.keys = jwt.PyJWKSet.from_dict(jwks)

    def resolve_public_key(self, key_id: str) -> Any:
        return self.keys[key_id].key


def signed_request(
    credentials: Credentials, url: str, body: bytes, nonce: str
) -> requests.PreparedRequest:
    """A POST signed as PROTOCOL.md §2 asks (the same calls as a client would make)."""
    prepared = requests.Request(
        "POST", url, data=body, headers={"Content-Type": "application/json"}
    ).prepare()
    HTTPMessageSigner(
        signature_algorithm=algorithms.HMAC_SHA256, key_resolver=_Secret(credentials.secret)
    ).sign(
        prepared,
        key_id=credentials.key_id,
        nonce=nonce,
        tag=CALL_HOME_TAG,
        covered_component_ids=("@method", "@path"),
        body=body,
        created=datetime.now(UTC),
        label="lic",
    )
    return prepared


def activate(base: str, instances: Sequence[Instance]) -> None:
    """Activate every instance with a signed call and check the signed answer."""
    jwks = requests.get(base + "/.well-known/jwks.json", timeout=10).json()
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=_Jwks(jwks))
    with requests.Session() as session:
        for instance in instances:
            nonce = secrets.token_urlsafe(16)
            body = json.dumps(
                {
                    "product": PRODUCT,
                    "fingerprint": instance.fingerprint,
                    "server_name": instance.server_name,
                    "product_version": VERSION,
                    "usage": {"mailboxes": 120},
                },
                separators=(",", ":"),
            ).encode()
            prepared = signed_request(
                instance.credentials, base + "/v1/instance/activations", body, nonce
            )
            response = session.send(prepared, timeout=30)
            if response.status_code != 201:
                raise BenchError(
                    f"activation of {instance.fingerprint}: {response.status_code} {response.text}"
                )
            verifier.verify(
                response,
                expect_tag=RESPONSE_TAG,
                body=response.content,
                require_components=("@status", "content-digest"),
            )
            answer = response.json()
            if answer.get("nonce") != nonce:
                raise BenchError(f"activation answer does not echo the nonce: {answer}")
            instance.activation_id = uuid.UUID(answer["activation"]["id"])


_worker_instances: list[Instance] = []
_worker_host = ""
# What every pre-signed check-in presents as lease_jti (--lease-jti); read by the pool,
# which is forked after main() sets it.
STALE_LEASE = "bench-superseded-lease"
_presented: dict[str, str | None] = {"lease_jti": None}


def _init_signer(instances: list[Instance], host: str) -> None:
    global _worker_host  # noqa: PLW0603 - per-process state of the signing pool
    _worker_instances[:] = instances
    _worker_host = host


def _sign_chunk(span: tuple[int, int]) -> list[tuple[str, str]]:
    """Pre-sign check-ins number ``start`` to ``stop - 1``: (nonce, line for replay.lua)."""
    start, stop = span
    out = []
    for number in range(start, stop):
        instance = _worker_instances[number % len(_worker_instances)]
        nonce = secrets.token_urlsafe(16)  # 16 random bytes, 22 characters
        fields: dict[str, Any] = {
            "fingerprint": instance.fingerprint,
            "server_name": instance.server_name,
            "product_version": VERSION,
            "usage": {"mailboxes": 120},
        }
        if _presented["lease_jti"] is not None:
            fields["lease_jti"] = _presented["lease_jti"]
        body = json.dumps(fields, separators=(",", ":"))
        prepared = signed_request(
            instance.credentials, f"http://{_worker_host}{CHECK_IN_PATH}", body.encode(), nonce
        )
        headers = [f"Host: {_worker_host}"] + [
            f"{name}: {value.decode() if isinstance(value, bytes) else value}"
            for name, value in prepared.headers.items()
            if name.lower() != "content-length"  # wrk.format sets it
        ]
        out.append((nonce, "\t".join(["POST", CHECK_IN_PATH, body, *headers])))
    return out


def presign(
    instances: Sequence[Instance],
    host: str,
    count: int,
    *,
    prefix: Path,
    parts: int,
    seen: set[str],
) -> float:
    """Write ``count`` signed check-ins to ``prefix.0`` … ``prefix.<parts-1>``; seconds taken.

    Every nonce is new (also against ``seen``, the nonces of earlier phases), and each wrk
    thread gets a disjoint, contiguous slice.
    """
    started = time.perf_counter()
    chunk = 500
    spans = [(i, min(i + chunk, count)) for i in range(0, count, chunk)]
    with multiprocessing.get_context("fork").Pool(
        os.cpu_count() or 1, initializer=_init_signer, initargs=(list(instances), host)
    ) as pool:
        signed = [item for part in pool.imap(_sign_chunk, spans) for item in part]
    nonces = {nonce for nonce, _ in signed}
    if len(nonces) != count or nonces & seen:
        raise BenchError("pre-signed nonces are not unique")
    seen |= nonces
    per_part = math.ceil(count / parts)
    for part in range(parts):
        lines = [line for _, line in signed[part * per_part : (part + 1) * per_part]]
        Path(f"{prefix}.{part}").write_text("\n".join(lines) + "\n")
    return time.perf_counter() - started


# --------------------------------------------------------------------------- CPU accounting


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for kid in map(int, kids):
            found += [kid, *children(kid)]
    return found


def cpu_ticks(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip().startswith("postgres"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class CpuSample:
    server: int
    postgres: int
    children_seconds: float
    busy: int
    total: int
    wall: float

    @classmethod
    def take(cls, srv: Server, with_postgres: bool) -> CpuSample:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy, total = machine_ticks()
        return cls(
            server=cpu_ticks(srv.pids()),
            postgres=cpu_ticks(postgres_pids()) if with_postgres else 0,
            children_seconds=usage.ru_utime + usage.ru_stime,
            busy=busy,
            total=total,
            wall=time.monotonic(),
        )


def cpu_share(before: CpuSample, after: CpuSample) -> dict[str, float]:
    """Cores used during the phase: server, PostgreSQL (all of it), wrk, everything."""
    wall = after.wall - before.wall
    cores = os.cpu_count() or 1
    return {
        "server": (after.server - before.server) / CLOCK_TICKS / wall,
        "postgres": (after.postgres - before.postgres) / CLOCK_TICKS / wall,
        "wrk": (after.children_seconds - before.children_seconds) / wall,
        "machine": (after.busy - before.busy) / max(after.total - before.total, 1) * cores,
    }


# --------------------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    requests: int
    duration_us: int
    ok: int
    other: int
    sent: int
    exhausted: int
    connect: int
    read: int
    write: int
    status: int
    timeout: int
    p50_us: int
    p90_us: int
    p99_us: int
    max_us: int
    mean_us: float
    codes: str
    cpu: dict[str, float] = field(default_factory=dict)
    output: str = ""

    @property
    def rps(self) -> float:
        return self.requests / (self.duration_us / 1e6)

    @property
    def socket_errors(self) -> int:
        return self.connect + self.read + self.write + self.timeout

    @property
    def errors(self) -> int:
        return self.other + self.socket_errors

    @property
    def unanswered(self) -> int:
        """Sent without an answer when wrk stopped.

        wrk calls request() once more than it sends: at start-up it checks what the first
        thread's request() returns (that pre-signed request is skipped, never sent).
        """
        return max(self.sent - 1 - self.ok - self.other, 0)


def run_wrk(
    srv: Server,
    path: str,
    args: argparse.Namespace,
    *,
    duration: int,
    requests_prefix: Path | None,
    with_postgres: bool,
) -> WrkResult:
    env = dict(os.environ, BENCH_HOST=srv.base.removeprefix("http://"))
    env.pop("BENCH_REQUESTS", None)
    if requests_prefix is not None:
        env["BENCH_REQUESTS"] = str(requests_prefix)
    command = [
        "wrk",
        f"--threads={args.wrk_threads}",
        f"--connections={args.connections}",
        f"--duration={duration}s",
        "--timeout=5s",
        f"--script={LUA_SCRIPT}",
        srv.base + path,
    ]
    before = CpuSample.take(srv, with_postgres)
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=duration + 120, check=False
    )
    after = CpuSample.take(srv, with_postgres)
    match = re.search(r"^BENCH_RESULT (.*)$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or match is None:
        raise BenchError(f"wrk failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    values: dict[str, Any] = dict(item.split("=", 1) for item in match.group(1).split())
    parsed: dict[str, Any] = {
        name: (float(value) if name == "mean_us" else value if name == "codes" else int(value))
        for name, value in values.items()
    }
    out = WrkResult(**parsed, cpu=cpu_share(before, after), output=result.stdout)
    if out.ok + out.other != out.requests:
        raise BenchError(f"wrk counted {out.requests} answers, the script {out.ok + out.other}")
    if args.verbose:
        print(result.stdout, result.stderr, file=sys.stderr)
    return out


# --------------------------------------------------------------------------- the run


def ms(us: float) -> str:
    return f"{us / 1000:.1f} ms"


def errors_text(r: WrkResult) -> str:
    text = f"{r.errors} (non-200 {r.other}"
    if r.codes:
        text += f" [{r.codes}]"
    return (
        text + f", socket {r.socket_errors}: connect {r.connect} read {r.read}"
        f" write {r.write} timeout {r.timeout})"
    )


def other_load(r: WrkResult) -> float:
    """Cores busy with processes other than the server, PostgreSQL and wrk."""
    return max(r.cpu["machine"] - r.cpu["server"] - r.cpu["postgres"] - r.cpu["wrk"], 0.0)


def cost_ratio(healthz: WrkResult, checkins: WrkResult) -> float:
    def per_request(r: WrkResult) -> float:
        return (r.cpu["server"] + r.cpu["postgres"]) / r.rps if r.rps else math.inf

    return per_request(healthz) / per_request(checkins)


def cpu_text(r: WrkResult, with_postgres: bool) -> str:
    """Cores busy during the phase, and the server's (and PostgreSQL's) CPU per answer."""
    cpu = r.cpu
    parts = [f"server {cpu['server']:.2f}"]
    if with_postgres:
        parts.append(f"postgres {cpu['postgres']:.2f}")
    parts += [f"wrk {cpu['wrk']:.2f}", f"other processes {other_load(r):.2f}"]
    per = f"server {cpu['server'] / r.rps * 1000:.2f} ms" if r.rps else "-"
    if with_postgres and r.rps:
        per += f" + postgres {cpu['postgres'] / r.rps * 1000:.2f} ms"
    return f"cores: {', '.join(parts)}; CPU per request: {per}"


def git_state() -> str:
    def git(*argv: str) -> str:
        result = subprocess.run(
            ["git", *argv], cwd=ROOT, capture_output=True, text=True, check=False
        )
        return result.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "licensing", "migrations")
    return head + (" + uncommitted changes in licensing/" if dirty else "")


@dataclass
class Outcome:
    """Everything one run measured."""

    description: str
    instances: int
    warmup: WrkResult
    healthz: WrkResult
    checkins: WrkResult
    presigned: int
    signing_seconds: float
    baseline: int  # observations after the activations, before any check-in
    recorded: int  # observations after the server stopped
    server_errors: list[str]
    batches: tuple[float, float] | None = None  # check-ins, batches (group commit)


def measure(args: argparse.Namespace) -> Outcome:
    with_postgres = args.backend == "postgresql"
    with backend(args.backend, args.keep) as be:
        if with_postgres:
            licensing_command(be, "db", "upgrade")
        credentials = []
        for _ in range(args.licenses):
            display = json.loads(licensing_command(be, "demo", "--json"))["license_key"]
            key = license_keys.parse(display)
            credentials.append(
                Credentials(key.key_id, license_keys.signing_secret(key.normalised), display)
            )
        # Two instances per license: one seat plus the demo edition's migration allowance.
        instances = [
            Instance(c, f"bench-{c.key_id}-{n}", f"mail{n}.bench.example.com")
            for c in credentials
            for n in (1, 2)
        ]
        port = free_port()
        host = f"127.0.0.1:{port}"
        seen: set[str] = set()
        with server(be, port, args.workers, args.threads) as srv:
            activate(srv.base, instances)
            ids = [i.activation_id for i in instances if i.activation_id is not None]
            baseline = be.observations(ids)
            prefix = be.instance_path / "checkins"

            def phase(path: str, seconds: int, signed: Path | None) -> WrkResult:
                return run_wrk(
                    srv,
                    path,
                    args,
                    duration=seconds,
                    requests_prefix=signed,
                    with_postgres=with_postgres,
                )

            def sign(count: int) -> float:
                return presign(
                    instances, host, count, prefix=prefix, parts=args.wrk_threads, seen=seen
                )

            # Warm-up: caches, connection pools, the pages of the hot rows; rate estimate.
            phase("/healthz", WARMUP_SECONDS, None)
            sign(WARMUP_REQUESTS)
            warmup = phase(CHECK_IN_PATH, WARMUP_SECONDS, prefix)

            healthz = phase("/healthz", args.duration, None)

            # Signed right before the measured phase: `created` is fresh when sent.
            estimate = healthz.rps if warmup.exhausted else warmup.rps
            count = args.requests or max(MIN_PRESIGNED, math.ceil(estimate * args.duration * 1.5))
            signing_seconds = sign(count)
            checkins = phase(CHECK_IN_PATH, args.duration, prefix)
            batches = batch_figures(srv.base)
            server_errors = [
                line for line in srv.log_tail(200).splitlines() if "ERROR" in line.upper()
            ]
        # The server is stopped (gracefully): every request it took is finished.
        return Outcome(
            description=be.describe(),
            instances=len(instances),
            warmup=warmup,
            healthz=healthz,
            checkins=checkins,
            presigned=count,
            signing_seconds=signing_seconds,
            baseline=baseline,
            recorded=be.observations(ids),
            server_errors=server_errors,
            batches=batches,
        )


def batch_figures(base: str) -> tuple[float, float] | None:
    """Check-ins and commits of the group commit so far, from ``/metrics``."""
    text = requests.get(base + "/metrics", timeout=10).text
    found = dict(re.findall(r"^licensing_check_in_batch_size_(sum|count) (\S+)$", text, re.M))
    if "sum" not in found or "count" not in found:
        return None
    return float(found["sum"]), float(found["count"])


def report(args: argparse.Namespace, o: Outcome) -> tuple[list[str], bool]:
    """The summary block, and whether the run is valid (nothing lost, nothing exhausted)."""
    with_postgres = args.backend == "postgresql"
    warmup, healthz, checkins = o.warmup, o.healthz, o.checkins
    acknowledged = warmup.ok + checkins.ok
    expected = o.baseline + acknowledged
    lost = max(0, expected - o.recorded)
    extra = max(0, o.recorded - expected)
    unanswered = warmup.unanswered + checkins.unanswered
    ratio = checkins.rps / healthz.rps if healthz.rps else 0.0
    errors = checkins.errors + healthz.errors + warmup.errors

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    default_workers, default_threads = serve_defaults(args.backend)
    workers, threads = args.workers or default_workers, args.threads or default_threads
    lines = [
        "== licensing check-in benchmark ==",
        f"backend     {o.description}",
        f"server      licensing serve, {workers} workers x"
        f" {threads} thread(s) ({'gthread' if threads > 1 else 'sync'}),"
        f" code {git_state()}",
        f"load        wrk {args.wrk_threads} threads, {args.connections} connections,"
        f" {args.duration} s per phase, {o.instances} instances on {args.licenses}"
        f" license(s), {os.cpu_count()} CPUs",
        f"check-ins   {checkins.rps:,.0f} req/s  p50 {ms(checkins.p50_us)}"
        f"  p99 {ms(checkins.p99_us)}  max {ms(checkins.max_us)}"
        f"  ({checkins.requests:,} answered)",
        f"            errors {errors_text(checkins)}",
        f"            {cpu_text(checkins, with_postgres)}",
        f"healthz     {healthz.rps:,.0f} req/s  p50 {ms(healthz.p50_us)}"
        f"  p99 {ms(healthz.p99_us)}  max {ms(healthz.max_us)}  ({healthz.requests:,} answered)",
        f"            errors {errors_text(healthz)}",
        f"            {cpu_text(healthz, with_postgres)}",
        f"ratio       {ratio:.3f} (check-ins req/s / healthz req/s)",
        f"cost ratio  {cost_ratio(healthz, checkins):.3f} (server+postgres CPU per healthz /"
        " per check-in: the ratio if the server's CPU were the only limit)",
        f"pre-signed  {o.presigned:,} unique nonces in {o.signing_seconds:.1f} s"
        f" (warm-up {warmup.rps:,.0f} req/s), used {checkins.sent:,},"
        f" exhausted threads {checkins.exhausted}",
        *(
            [
                f"group commit {o.batches[0]:,.0f} check-ins in {o.batches[1]:,.0f} commits"
                f" (mean batch {o.batches[0] / o.batches[1]:.2f}, the whole run)"
            ]
            if o.batches and o.batches[1]
            else []
        ),
        f"durability  acknowledged {acknowledged:,} check-ins (warm-up {warmup.ok:,}"
        f" + measured {checkins.ok:,}) + {o.baseline} activations = {expected:,}",
        f"            recorded {o.recorded:,} (sum of usage_observations.count); lost = {lost}",
        f"            recorded but unacknowledged {extra} (requests in flight when wrk"
        f" stopped: {unanswered})",
        f"targets     ratio >= {TARGET_RATIO:.2f}: {verdict(ratio >= TARGET_RATIO)};"
        f" p99 <= {TARGET_P99_MS:.0f} ms: {verdict(checkins.p99_us / 1000 <= TARGET_P99_MS)};"
        f" zero errors: {verdict(errors == 0)}; nothing lost: {verdict(lost == 0)}",
    ]
    for name, phase in (("check-ins", checkins), ("healthz", healthz)):
        if other_load(phase) > NOISY_CORES:
            lines.append(
                f"WARNING     other processes used {other_load(phase):.2f} cores during the"
                f" {name} phase: the machine was busy, req/s and the ratio are not reliable"
            )
    if extra > unanswered:
        lines.append(
            f"WARNING     {extra - unanswered} more observations than acknowledged or in flight"
        )
    if checkins.exhausted:
        lines.append(
            "WARNING     the pre-signed check-ins ran out: req/s is understated; use --requests"
        )
    if o.server_errors:
        lines.append(f"WARNING     the server logged errors, e.g.: {o.server_errors[-1][:300]}")
    return lines, not lost and not checkins.exhausted


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _presented["lease_jti"] = STALE_LEASE if args.lease_jti == "stale" else None
    if shutil.which("wrk") is None:
        print(
            "bench/checkins.py needs wrk, the HTTP load generator: apt-get install -y wrk",
            file=sys.stderr,
        )
        return 2
    try:
        outcome = measure(args)
    except BenchError as error:
        print(f"bench/checkins.py: {error}", file=sys.stderr)
        return 1
    lines, valid = report(args, outcome)
    print("\n".join(lines))
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
