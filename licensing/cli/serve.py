"""``licensing serve``: the production server (gunicorn), also on the embedded database."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from licensing.cli.context import actor, prepare_database, runtime, session

EMBEDDED_WORKERS = 2
THREADS = 4
KEEP_ALIVE = 2


def default_workers(*, embedded_database: bool) -> int:
    """One per core (at least 2, at most 8); 2 on the embedded database.

    SQLite takes one writer at a time: more workers add no check-ins per second, only
    writers sleeping in its busy handler (bench/README.md: p99 395 ms with 5 workers,
    50 ms with 2, at the same throughput).
    """
    if embedded_database:
        return EMBEDDED_WORKERS
    return min(max(os.cpu_count() or 1, 2), 8)


def default_threads(*, embedded_database: bool) -> int:
    """4 threads per worker on PostgreSQL, where concurrent check-ins share one commit
    (storage/group_commit.py); 1 on the embedded database, which writes one at a time.

    More threads share more commits but queue longer for the worker's one interpreter
    lock: with 8, p99 at 16 connections was 24-29 ms; with 4, 21-23 ms at about the same
    rate (bench/README.md).
    """
    return 1 if embedded_database else THREADS


def worker_connections(threads: int) -> int:
    """Connections a worker serves at most: one per thread, and as many idle ones.

    Connections whose request is still arriving are not counted: the worker reads them
    in its event loop, up to a bound of their own (licensing/gunicorn_worker.py).

    gunicorn's default (1,000) lets the worker that wakes first take every keep-alive
    connection there is; its threads and interpreter lock then serve them all while
    the other workers idle (bench/README.md: a fifth fewer check-ins, p99 28 ms). With
    the cap, connections beyond it wait in the listen queue for a worker with room.
    """
    return 2 * threads


def keep_alive(threads: int) -> int:
    """Seconds an idle connection is kept open after an answer; none with one thread.

    A worker with one thread that keeps a connection alive serves that client again
    before the connections waiting to be accepted, which then wait for seconds
    (bench/README.md). Closing after each answer keeps them in arrival order, as
    gunicorn's sync worker did; with more threads, gunicorn's 2 s default.
    """
    return 0 if threads == 1 else KEEP_ALIVE


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes [default: one per core, 2 to 8; 2 on the embedded database].",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    help="Threads per worker [default: 4; 1 on the embedded database].",
)
@click.option(
    "--timeout",
    default=30,
    show_default=True,
    type=click.IntRange(1, 600),
    help="Seconds before a silent worker is restarted.",
)
@with_appcontext
def serve(host: str, port: int, workers: int | None, threads: int | None, timeout: int) -> None:
    """Run the server with gunicorn; migrates the embedded database first."""
    from licensing.services import server_keys

    _refuse_an_address_in_use(host, port)
    embedded = runtime().settings.uses_embedded_database
    if workers is None:
        workers = default_workers(embedded_database=embedded)
    if threads is None:
        threads = default_threads(embedded_database=embedded)
    prepare_database()
    server_keys.ensure_active_key(session(), runtime().sealer, actor=actor())
    session().commit()
    env = dict(os.environ)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(_fresh_metrics_dir(Path(current_app.instance_path)))
    # The instance folder the workers must use is the one this process resolved.
    env.setdefault("LICENSING_INSTANCE_PATH", current_app.instance_path)
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:licensing.gunicorn_conf",
        "--bind",
        f"{_url_host(host)}:{port}",
        # Reads each request whole before a thread takes it: slow clients hold no thread.
        "--worker-class",
        "licensing.gunicorn_worker.BufferingWorker",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-connections",
        str(worker_connections(threads)),
        "--keep-alive",
        str(keep_alive(threads)),
        "--timeout",
        str(timeout),
        "licensing.wsgi:app",
    ]
    click.echo(
        f"licensing: serving on http://{host}:{port} with {workers} workers x {threads} threads",
        err=True,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)  # noqa: S606 - replaces this process with gunicorn


def where_next(base_url: str) -> str:
    """What a new operator looks at once the server is up.

    Listening is not ready: the database or Redis may be down. /readyz says which;
    asking it here would cost every start-up a round trip to each.
    """
    return "\n".join(
        [
            f"licensing: listening on {base_url} (readiness: GET {base_url}/readyz)",
            f"  API documentation  {base_url}/docs/",
            f"  health check       {base_url}/healthz",
            "  the client         pip install ./clients/python, then: licensing-client --help",
        ]
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _refuse_an_address_in_use(host: str, port: int) -> None:
    """Fail in one line now, rather than in gunicorn's five seconds of retried tracebacks."""
    import errno
    import socket

    address = f"{_url_host(host)}:{port}"
    try:
        first, *_ = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise click.ClickException(f"cannot listen on {address}: {exc.strerror}") from None
    family, kind, proto, _, sockaddr = first
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(sockaddr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(
                    f"{address} is already in use by another process:"
                    " stop it, or choose another --port"
                ) from None
            raise click.ClickException(f"cannot listen on {address}: {exc.strerror}") from None


def _fresh_metrics_dir(instance: Path) -> Path:
    """Each server start gets an empty directory for the workers' shared metric files."""
    from licensing.instance import instance_folder

    directory = instance_folder(instance) / "prometheus"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory
