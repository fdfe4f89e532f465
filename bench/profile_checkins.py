"""CPU cost of one signed check-in inside the application, without HTTP server or load.

Not a test: it prints figures. Where ``checkins.py`` measures the whole server under
load, this calls the WSGI application directly, one request after another, and divides
the process's CPU time by the requests: the cost of the application's own work per
request, for the check-in and for ``GET /healthz``, and their ratio. ``--profile`` adds a
cProfile listing of the check-ins (slower; the figures then include the profiler).

    .venv/bin/python bench/profile_checkins.py --backend postgresql --requests 3000
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import psycopg
from checkins import CHECK_IN_PATH, PRODUCT, VERSION, Credentials, Instance
from checkins import signed_request as _signed
from werkzeug.test import EnvironBuilder

from licensing import create_app
from licensing.cli import cli
from licensing.crypto import license_keys

HOST = "127.0.0.1:8000"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--requests", type=int, default=3000, help="check-ins to time")
    parser.add_argument("--profile", action="store_true", help="print a cProfile listing")
    parser.add_argument("--top", type=int, default=45, help="lines of the listing")
    parser.add_argument(
        "--lease-jti",
        choices=("none", "chained", "stale"),
        default="none",
        help="what each check-in presents as lease_jti: nothing (an old client), the newest "
        "lease (licensing-client, the normal case) or a superseded one (a clone: a "
        "lease_presentations row per check-in)",
    )
    return parser.parse_args(argv)


class LeaseIds:
    """Lease ids the server draws in order, so pre-signed check-ins can name the newest.

    Requests run one after another, each valid answer draws one id: the id a request
    will be issued is known when it is signed. (Only for ``--lease-jti chained``; the
    server's own ids are random.)
    """

    def __init__(self) -> None:
        self.drawn = 0  # ids the server has drawn so far
        self.planned = 0  # ids the requests signed so far will draw
        self.held: dict[str, str] = {}  # fingerprint -> the id of its newest lease

    def draw(self) -> str:
        self.drawn += 1
        return f"bench-lease-{self.drawn - 1}"

    def plan(self, fingerprint: str) -> str | None:
        """The id this instance holds when its next request runs; counts that request."""
        held = self.held.get(fingerprint)
        self.held[fingerprint] = f"bench-lease-{self.planned}"
        self.planned += 1
        return held


def environ(instance: Instance, body: dict[str, Any], path: str) -> dict[str, Any]:
    raw = json.dumps(body, separators=(",", ":")).encode()
    prepared = _signed(instance.credentials, f"http://{HOST}{path}", raw, secrets.token_urlsafe(16))
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in prepared.headers.items()}
    headers.pop("Content-Length", None)
    built = EnvironBuilder(
        path=path, method="POST", base_url=f"http://{HOST}", headers=headers, data=raw
    ).get_environ()
    built["REMOTE_ADDR"] = "192.0.2.10"
    return built


def call(app: Any, env: dict[str, Any]) -> str:
    status: list[str] = []

    def start_response(s: str, headers: Any, exc_info: Any = None) -> Any:
        status.append(s)
        return lambda data: None

    for _ in app(env, start_response):
        pass
    return status[0]


def timed(app: Any, environs: Iterable[dict[str, Any]], expect: str) -> tuple[float, int]:
    started, count = time.process_time(), 0
    for env in environs:
        status = call(app, env)
        if not status.startswith(expect):
            raise SystemExit(f"unexpected answer {status}")
        count += 1
    return time.process_time() - started, count


def presenter(mode: str) -> tuple[Callable[[Instance], dict[str, str]], LeaseIds]:
    """The ``lease_jti`` member each next check-in carries, as ``--lease-jti`` says."""
    ids = LeaseIds()
    if mode == "chained":
        from licensing.services import instance_calls

        instance_calls.new_lease_id = ids.draw  # type: ignore[assignment]

    def presented(instance: Instance) -> dict[str, str]:
        held = ids.plan(instance.fingerprint)
        if mode == "stale":
            return {"lease_jti": "bench-superseded-lease"}
        if mode == "chained" and held is not None:
            return {"lease_jti": held}
        return {}

    return presented, ids


def presentations_written(app: Any) -> int:
    from sqlalchemy import func, select

    from licensing.extensions import db
    from licensing.models import LeasePresentation

    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(LeasePresentation)) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="licensing-profile-"))
    database = None
    config: dict[str, Any] = {
        "LICENSING_INSTANCE_PATH": str(folder),
        "LICENSING_CACHE_TTL": 5,
        "LICENSING_LOG_LEVEL": "WARNING",
    }
    if args.backend == "postgresql":
        database = f"profile_{secrets.token_hex(4)}"
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{database}"')
        config["LICENSING_DATABASE_URL"] = (
            f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
        )
    try:
        # The CLI builds its own application from the environment.
        os.environ.update({name: str(value) for name, value in config.items()})
        app = create_app()
        runner = app.test_cli_runner()
        for command in (["db", "upgrade"], ["demo", "--json"]):
            result = runner.invoke(cli, args=command)
            if result.exit_code != 0:
                raise SystemExit(f"licensing {' '.join(command)}: {result.output}")
        display = json.loads(result.output)["license_key"]
        key = license_keys.parse(display)
        credentials = Credentials(key.key_id, license_keys.signing_secret(key.normalised), display)
        instances = [
            Instance(credentials, f"profile-instance-{n:04d}", f"mail{n}.example.com")
            for n in (1, 2)
        ]
        wsgi = app.wsgi_app
        presented, ids = presenter(args.lease_jti)
        for instance in instances:
            ids.plan(instance.fingerprint)
            body = {
                "product": PRODUCT,
                "fingerprint": instance.fingerprint,
                "server_name": instance.server_name,
                "product_version": VERSION,
            }
            call(wsgi, environ(instance, body, "/v1/instance/activations"))

        def check_ins(count: int) -> list[dict[str, Any]]:
            return [
                environ(
                    instances[n % 2],
                    {
                        "fingerprint": instances[n % 2].fingerprint,
                        "server_name": instances[n % 2].server_name,
                        "product_version": VERSION,
                        "usage": {"mailboxes": 120},
                    }
                    | presented(instances[n % 2]),
                    CHECK_IN_PATH,
                )
                for n in range(count)
            ]

        def healthz(count: int) -> list[dict[str, Any]]:
            return [
                EnvironBuilder(path="/healthz", base_url=f"http://{HOST}").get_environ()
                for _ in range(count)
            ]

        timed(wsgi, check_ins(200), "200")  # warm-up: caches, pool, prepared statements
        timed(wsgi, healthz(200), "200")
        health_cpu, health_n = timed(wsgi, healthz(args.requests), "200")
        batch = check_ins(args.requests)
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        run: Callable[[], tuple[float, int]] = lambda: timed(wsgi, batch, "200")  # noqa: E731
        check_cpu, check_n = profiler.runcall(run) if profiler else run()
        per_check, per_health = check_cpu / check_n * 1e3, health_cpu / health_n * 1e3
        print(f"backend      {args.backend}, lease_jti: {args.lease_jti}")
        print(f"check-in     {per_check:.3f} ms CPU per request ({check_n} requests)")
        print(f"healthz      {per_health:.3f} ms CPU per request ({health_n} requests)")
        print(f"cost ratio   {per_health / per_check:.3f} (in-process, no HTTP server)")
        print(f"presented    {presentations_written(app)} lease_presentations rows written")
        if profiler:
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(args.top)
            print(out.getvalue())
    finally:
        if database:
            with psycopg.connect(
                "host=127.0.0.1 user=postgres dbname=postgres", autocommit=True
            ) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
