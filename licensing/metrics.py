"""Prometheus metrics; aggregated across gunicorn workers when multiprocess mode is on."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

HTTP_REQUESTS = Counter(
    "licensing_http_requests",
    "HTTP requests answered, by route, method and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "licensing_http_request_duration_seconds",
    "Time to answer an HTTP request, by route.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
CHECK_IN_BATCH = Histogram(
    "licensing_check_in_batch_size",
    "Check-ins written and committed together (group commit, PostgreSQL).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    HTTP_DURATION.labels(route=route).observe(seconds)


def observe_check_in_batch(size: int) -> None:
    CHECK_IN_BATCH.observe(size)


def exposition() -> tuple[bytes, str]:
    """The text exposition format, merging every worker's values under gunicorn."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
